// The esbuild options every Node bundle of ours is built with (`npm run build`, scripts/build.js,
// and `npm run simulate`, scripts/simulate-bundled.js): one place, so the simulator runs the code
// as it ships. Dependencies stay in node_modules (native better-sqlite3, and what users may update
// alone).
export const NODE_BUNDLE = {
  bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning',
}
