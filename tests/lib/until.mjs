// until.mjs: the one wait of the Node suites. Every wait in a test is on
// a condition with a deadline, never a sleep standing in for one.
//
//   await until('the session to end', () => s.session(sid)?.state === 'closed');
//   const m = await until('a log line', () => re.exec(log), 5000);

// The default deadline leaves room for a loaded 2-core machine.
export const UNTIL_MS = Number(process.env.SIO_UNTIL_TIMEOUT) || 10000;

// Resolves with fn()'s first truthy value (fn may be async), looking every
// `every` ms; rejects after ms with what was awaited. An error thrown by fn
// ends the wait at once.
export async function until(what, fn, ms = UNTIL_MS, every = 20) {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, every));
	}
}
