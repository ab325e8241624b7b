// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'client-lib/dist/**',
      'node_modules/**',
      '.tap/**',
      'web/public/vendor/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
    },
  },
  {
    // House style: no console in the servers; they log through pino.
    files: [
      'server/**/*.ts',
      'web/**/*.ts',
      'auth/**/*.ts',
      'config/**/*.ts',
      'db/**/*.ts',
      'common/**/*.ts',
    ],
    rules: { 'no-console': 'error' },
  },
);
