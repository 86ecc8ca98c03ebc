// Moved to tests/lib/wsclient.mjs.
export * from '../lib/wsclient.mjs';
