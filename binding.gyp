# node-gyp build (what `npm install` uses). Sources come from deps/sources.json, the one list
# CMakeLists.txt reads too. libssh2 is compiled static with -fPIC against the OpenSSL and zlib
# headers of the running Node (<nodedir>/include/node); no libcrypto, libssl or libz is linked:
# those symbols resolve from the node binary when the addon loads.
{
  "targets": [
    {
      "target_name": "libssh2_static",
      "type": "static_library",
      "sources": [
        "<!@(node -p \"require('./deps/sources.json').libssh2.map(f => 'deps/libssh2/src/' + f).join(' ')\")"
      ],
      "include_dirs": ["deps/config", "deps/libssh2/include", "deps/libssh2/src"],
      "defines": ["HAVE_CONFIG_H", "LIBSSH2_OPENSSL", "LIBSSH2_HAVE_ZLIB", "LIBSSH2DEBUG", "_GNU_SOURCE"],
      "cflags": ["-fPIC", "-fvisibility=hidden", "-std=gnu99", "-Wno-unused-parameter", "-Wno-sign-compare", "-Wno-missing-field-initializers"],
      "direct_dependent_settings": {
        "include_dirs": ["deps/libssh2/include"]
      }
    },
    {
      "target_name": "node_libssh2",
      "dependencies": ["libssh2_static"],
      "sources": [
        "<!@(node -p \"require('./deps/sources.json').binding.map(f => 'binding/' + f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fno-exceptions"],
      "ldflags": ["-Wl,--exclude-libs,ALL"]
    }
  ]
}
