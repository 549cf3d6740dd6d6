import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'artifacts/**', 'dist/**', '.simulate/**', 'src/player/static/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', document: 'readonly', window: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Time and chance in the mesh come from the injected Timers (src/util/timers.ts), so the same
    // code runs on virtual time in the simulator and the swarm tests, and a seed replays a run.
    files: ['src/mesh/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error',
        ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'setImmediate'].map((name) => ({ name, message: 'use the injected Timers (src/util/timers.ts)' }))],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'use the injected Timers (src/util/timers.ts)' },
        { object: 'Math', property: 'random', message: 'use the injected Timers (src/util/timers.ts)' }],
    },
  },
)
