import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'artifacts/', 'cache/', 'typechain-types/', '.clearhouse/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    // CommonJS configuration files of tools (dependency-cruiser).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    // The CLI's launcher: plain Node CommonJS that loads the TypeScript source.
    files: ['bin/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The public pages' browser scripts: plain scripts the browser runs as they are served.
    files: ['server/pages/assets/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        EventSource: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    // Only chain/settler/ sends transactions: one nonce-managed sender per key, so nothing else
    // races the settler for the coordinator's nonces (STYLE.md).
    files: ['server/**/*.ts'],
    ignores: ['server/chain/settler/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'viem',
              importNames: ['createWalletClient'],
              message: 'only server/chain/settler/ sends transactions: use its transaction sender',
            },
          ],
        },
      ],
    },
  },
)
