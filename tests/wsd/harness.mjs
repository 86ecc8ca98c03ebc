// Moved to tests/lib/servers.mjs; this re-export goes once every suite imports it there.
export * from '../lib/servers.mjs';
