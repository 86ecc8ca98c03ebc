// Moved to tests/lib/hixie.mjs.
export * from './lib/hixie.mjs';
