// ESLint (flat config): typescript-eslint's recommended + type-checked rules over the
// TypeScript of lib/, test/, bench/, examples/ and scripts/; the recommended rules for the
// CommonJS build and benchmark scripts. `npm run lint` runs it with tsc and the clang-format check.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'build/', 'build-*/', 'deps/', 'docs/', 'coverage/', 'prebuilds/', 'node_modules/', 'bench/results/'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `catch (e)` is `unknown` (strict): passing it on as it came is the point.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // Async dispose methods and stream hooks are async by contract, with or without an await.
      '@typescript-eslint/require-await': 'off',
      // Node's stream constructors take async construct/final/destroy hooks that report through callbacks.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { properties: false } }],
    },
  },
  {
    // Tests and benchmarks inspect caught errors and parsed JSON as `any`.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
