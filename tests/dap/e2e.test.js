// End to end: `cinescope dap` driven by DebugClient (@vscode/debugadapter-testsupport),
// over tests/programs/dap_bank.py. Run by tests/test_dap_e2e.py, which sets
// CINESCOPE_BIN (the virtualenv's bin directory) and CINESCOPE_TMP (a scratch directory).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const BIN = process.env.CINESCOPE_BIN;
const TMP = process.env.CINESCOPE_TMP;
const PROGRAM = path.resolve(__dirname, '..', 'programs', 'dap_bank.py');
const LINES = fs.readFileSync(PROGRAM, 'utf8').split('\n');
const bp = (name) => LINES.findIndex((l) => l.includes(`# @bp ${name}`)) + 1;
const lineOf = (text) => LINES.findIndex((l) => l.includes(text)) + 1;
const DEPOSIT = bp('deposit');
const AFTER_JOIN = bp('after-join');
// Python 3.11 has no sys.monitoring: pydevd owns sys.settrace there, and the
// lines of a stopped program's frames are not recorded (README, "Debugging")
const LINE_LEVEL = process.env.CINESCOPE_PYTHON_VERSION !== '3.11';

function client(runtime, executable) {
  const dc = new DebugClient(runtime, executable, 'python', { cwd: TMP });
  dc.defaultTimeout = 30000;
  return dc;
}

function launchArgs(store, extra = {}) {
  return Object.assign({
    program: PROGRAM, cwd: TMP, console: 'internalConsole', justMyCode: true,
    cinescope: { store, trace: ['dap_bank=full'] },
  }, extra);
}

async function launchTo(dc, args, lines) {
  const initialized = dc.waitForEvent('initialized');
  const stopped = dc.waitForEvent('stopped');
  const init = await dc.initializeRequest({ adapterID: 'python', linesStartAt1: true,
                                           columnsStartAt1: true, pathFormat: 'path' });
  const launched = dc.launchRequest(args);
  await initialized;
  await dc.setBreakpointsRequest({ source: { path: PROGRAM },
                                   breakpoints: lines.map((line) => ({ line })) });
  await dc.configurationDoneRequest();
  await launched;
  return Object.assign({ capabilities: init.body }, (await stopped).body);
}

// [{name, line}] of the stopped thread, and its scopes with their variables by name
async function look(dc, threadId) {
  const st = await dc.stackTraceRequest({ threadId });
  const frames = st.body.stackFrames;
  const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
  const byName = {};
  for (const scope of scopes) {
    const vars = (await dc.variablesRequest({ variablesReference: scope.variablesReference }))
      .body.variables;
    byName[scope.name] = Object.fromEntries(vars.map((v) => [v.name, v]));
  }
  return { frames, scopes: byName };
}

async function step(dc, request, threadId) {
  const stopped = dc.waitForEvent('stopped');
  await request.call(dc, { threadId });
  return (await stopped).body;
}

test('history scopes, step back, reverse continue and back to live', async () => {
  const dc = client(path.join(BIN, 'cinescope'), 'dap');
  await dc.start();
  try {
    // the first hit: deposit(1) on the main thread; its self was set up by __init__
    let stop = await launchTo(dc, launchArgs('rec.db'), [DEPOSIT, AFTER_JOIN]);
    assert.equal(stop.capabilities.supportsStepBack, true);
    let view = await look(dc, stop.threadId);
    assert.equal(view.frames[0].line, DEPOSIT);
    const self1 = view.scopes['History: self'];
    assert.ok(self1, 'History: self is among the scopes');
    assert.match(self1.state.value, /'balance': 100/);
    assert.ok(Object.values(self1).some((v) => /→ 100\s+in Account.__init__/.test(v.value)));

    // the second hit, on the teller thread: deposit(5), after deposit(1) made 100 -> 101
    let cont = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: stop.threadId });
    stop = (await cont).body;
    view = await look(dc, stop.threadId);
    assert.equal(view.frames[1].name, 'teller');
    const change = Object.values(view.scopes['History: self'])
      .find((v) => /^100 → 101\s+in Account.deposit/.test(v.value));
    assert.ok(change, 'the change made by deposit(1) is in the timeline');
    const fields = (await dc.variablesRequest({ variablesReference: change.variablesReference }))
      .body.variables;
    assert.deepEqual(fields.filter((f) => ['old', 'new', 'method'].includes(f.name))
      .map((f) => [f.name, f.value]), [['old', '100'], ['new', '101'], ['method', "'Account.deposit'"]]);
    const received = Object.values(view.scopes.Messages);
    assert.equal(received.length, 1);
    assert.match(received[0].value, /^received 5 from /);
    assert.match(Object.values(view.scopes['Recent calls'])[0].value,
                 /^Account.deposit\(amount=5\)\s+\(not returned yet\)/);

    // on to the main thread after the join
    await dc.setBreakpointsRequest({ source: { path: PROGRAM }, breakpoints: [{ line: AFTER_JOIN }] });
    cont = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: stop.threadId });
    stop = (await cont).body;
    const main = stop.threadId;
    view = await look(dc, main);
    assert.equal(view.frames[0].line, AFTER_JOIN);
    assert.equal(view.scopes.Locals.total.value, '136');
    const sends = Object.values(view.scopes.Messages).map((v) => v.value);
    assert.deepEqual(sends.map((s) => s.match(/^sent (\S+) → received by teller/)[1]),
                     ['5', '10', '20', 'None']);

    // Step Back: the line before, from the recording, before it ran
    stop = await step(dc, dc.stepBackRequest, main);
    assert.equal(stop.reason, 'step');
    view = await look(dc, main);
    assert.match(view.frames[0].name, /^main \[recorded #\d+/);
    if (LINE_LEVEL) {
      assert.equal(view.frames[0].line, lineOf('total = account.balance'));
      const recorded = view.scopes['Locals (recorded)'];
      assert.ok(recorded.account && !recorded.total, 'total is not set before its line ran');
      stop = await step(dc, dc.stepBackRequest, main);
      view = await look(dc, main);
      assert.equal(view.frames[0].line, lineOf('worker.join()'));
      assert.match(view.scopes['Locals (recorded)'].worker.value, /started/);
      await step(dc, dc.nextRequest, main);
      view = await look(dc, main);
      assert.equal(view.frames[0].line, lineOf('total = account.balance'));
    }
    // forward, past the recording's end: live
    for (let i = 0; i < 20 && !/live/.test(stop.description); i++) {
      stop = await step(dc, dc.nextRequest, main);
    }
    assert.match(stop.description, /live/);
    view = await look(dc, main);
    assert.equal(view.frames[0].name, 'main');
    assert.equal(view.scopes.Locals.total.value, '136');

    // Reverse Continue: the previous recorded hit of a breakpoint on this thread
    await dc.setBreakpointsRequest({ source: { path: PROGRAM },
                                     breakpoints: [{ line: DEPOSIT }, { line: AFTER_JOIN }] });
    stop = await step(dc, dc.reverseContinueRequest, main);
    if (!LINE_LEVEL) {
      // no recorded line hits a breakpoint: the thread stays where it is
      assert.match(stop.description, /no earlier recorded moment/);
    } else {
      // the previous hit in any thread: the teller's deposit(20), then 10 and 5
      for (const [amount, before] of [['20', '116'], ['10', '106'], ['5', '101']]) {
        assert.equal(stop.reason, 'breakpoint');
        assert.match(stop.description, /in teller$/);
        view = await look(dc, main);
        assert.deepEqual(view.frames.map((f) => [f.name.split(' ')[0], f.line]),
                         [['Account.deposit', DEPOSIT], ['teller', lineOf('account.deposit(amount)')]]);
        assert.equal(view.scopes['Locals (recorded)'].amount.value, amount);
        assert.equal(view.scopes['Locals (recorded)'].before.value, before);
        stop = await step(dc, dc.reverseContinueRequest, main);
      }
      // then main's deposit(1)
      assert.match(stop.description, /in MainProcess$/);
      view = await look(dc, main);
      assert.deepEqual(view.frames.map((f) => [f.name.split(' ')[0], f.line]),
                       [['Account.deposit', DEPOSIT], ['main', lineOf('account.deposit(1)')]]);
      assert.equal(view.scopes['Locals (recorded)'].amount.value, '1');
      assert.equal(view.scopes['Locals (recorded)'].before.value, '100');
      const hover = await dc.evaluateRequest({ expression: 'self.balance',
                                               frameId: view.frames[0].id, context: 'hover' });
      assert.equal(hover.body.result, '100');
      // continue in history, this thread only: no later hit on it before now: live
      const live = dc.waitForEvent('stopped');
      await dc.continueRequest({ threadId: main, singleThread: true });
      stop = (await live).body;
      assert.match(stop.description, /live/);
    }
    // run to the end
    const output = dc.assertOutput('stdout', 'balance 136 total 137');
    const terminated = dc.waitForEvent('terminated');
    await dc.setBreakpointsRequest({ source: { path: PROGRAM }, breakpoints: [] });
    await dc.continueRequest({ threadId: main });
    await output;
    await terminated;
  } finally {
    await dc.stop();
  }
});

test('data breakpoint on self.balance: live, then backwards and forwards in history', async () => {
  const dc = client(path.join(BIN, 'cinescope'), 'dap');
  await dc.start();
  try {
    let stop = await launchTo(dc, launchArgs('data.db'), [DEPOSIT]);
    assert.equal(stop.capabilities.supportsDataBreakpoints, true);
    const main = stop.threadId;
    const view = await look(dc, main);
    // as VS Code's "Break on Value Change" on balance under self in Locals
    const self = view.scopes.Locals.self;
    const info = await dc.customRequest('dataBreakpointInfo', {
      name: 'balance', variablesReference: self.variablesReference });
    assert.ok(info.body.dataId, info.body.description);
    assert.match(info.body.description, /balance of __main__\.Account/);
    const none = await dc.customRequest('dataBreakpointInfo', {
      name: 'amount', variablesReference: view.scopes.Locals.amount.variablesReference || 999 });
    assert.equal(none.body.dataId, null);
    const set = await dc.customRequest('setDataBreakpoints', {
      breakpoints: [{ dataId: info.body.dataId }] });
    assert.deepEqual(set.body.breakpoints.map((b) => b.verified), [true]);
    const id = set.body.breakpoints[0].id;
    await dc.setBreakpointsRequest({ source: { path: PROGRAM }, breakpoints: [] });

    // live: deposit(1) makes 100 -> 101; the stop is in main, right after the call
    stop = await step(dc, dc.continueRequest, main);
    assert.equal(stop.reason, 'data breakpoint');
    assert.deepEqual(stop.hitBreakpointIds, [id]);
    assert.match(stop.description, /^balance changed 100 → 101 in Account\.deposit$/);
    let frames = (await dc.stackTraceRequest({ threadId: main })).body.stackFrames;
    assert.deepEqual([frames[0].name, frames[0].line], ['main', lineOf('account.deposit(1)') + 1]);
    // the teller's deposit(5) is the next change
    stop = await step(dc, dc.continueRequest, main);
    assert.match(stop.description, /^balance changed 101 → 106 in Account\.deposit$/);
    frames = (await dc.stackTraceRequest({ threadId: stop.threadId })).body.stackFrames;
    assert.equal(frames[0].name, 'teller');

    // on to the end of main without it, then set it again and go back in history
    await dc.customRequest('setDataBreakpoints', { breakpoints: [] });
    await dc.setBreakpointsRequest({ source: { path: PROGRAM }, breakpoints: [{ line: AFTER_JOIN }] });
    stop = await step(dc, dc.continueRequest, stop.threadId);
    assert.equal(stop.threadId, main);
    await dc.setBreakpointsRequest({ source: { path: PROGRAM }, breakpoints: [] });
    await look(dc, main);
    await dc.customRequest('setDataBreakpoints', { breakpoints: [{ dataId: info.body.dataId }] });
    stop = await step(dc, dc.reverseContinueRequest, main);
    assert.equal(stop.reason, 'data breakpoint');
    assert.match(stop.description, /balance changed 116 → 136 in Account\.deposit \(teller\)/);
    frames = (await dc.stackTraceRequest({ threadId: main })).body.stackFrames;
    assert.match(frames[0].name, /^Account\.deposit \[recorded #\d+/);
    assert.match(frames[1].name, /^teller \[recorded/);
    stop = await step(dc, dc.reverseContinueRequest, main);
    assert.match(stop.description, /balance changed 106 → 116/);
    stop = await step(dc, dc.continueRequest, main);
    assert.match(stop.description, /balance changed 116 → 136/);
    stop = await step(dc, dc.continueRequest, main);
    assert.match(stop.description, /live/);

    const output = dc.assertOutput('stdout', 'balance 136 total 137');
    const terminated = dc.waitForEvent('terminated');
    await dc.customRequest('setDataBreakpoints', { breakpoints: [] });
    await dc.continueRequest({ threadId: main });
    await output;
    await terminated;
  } finally {
    await dc.stop();
  }
});

// The same session, through cinescope dap and through plain debugpy: what the
// client sees of the program must be the same.
async function plainSession(dc, args) {
  const seen = [];
  await dc.start();
  try {
    let stop = await launchTo(dc, args, [DEPOSIT]);
    seen.push({ stepBack: stop.capabilities.supportsStepBack || false });
    for (let hit = 0; hit < 2; hit++) {
      const st = await dc.stackTraceRequest({ threadId: stop.threadId });
      const frames = st.body.stackFrames;
      const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
      const locals = (await dc.variablesRequest({
        variablesReference: scopes.find((s) => s.name === 'Locals').variablesReference })).body.variables;
      const evaluated = await dc.evaluateRequest({ expression: 'self.balance + amount',
                                                   frameId: frames[0].id, context: 'repl' });
      seen.push({ reason: stop.reason, frames: frames.map((f) => [f.name, f.line, f.source.path]),
                  scopes: scopes.map((s) => s.name).filter((n) => !['History: self', 'Messages',
                                                                    'Recent calls'].includes(n)),
                  locals: locals.map((v) => [v.name, v.type]), evaluated: evaluated.body.result });
      const next = dc.waitForEvent('stopped');
      await dc.nextRequest({ threadId: stop.threadId });
      stop = (await next).body;
      const after = await dc.stackTraceRequest({ threadId: stop.threadId });
      seen.push({ stepped: after.body.stackFrames[0].line });
      const cont = dc.waitForEvent('stopped');
      await dc.continueRequest({ threadId: stop.threadId });
      stop = (await cont).body;
    }
    const unknown = await dc.customRequest('noSuchRequest').then(() => 'ok', (e) => 'error');
    seen.push({ unknown });
  } finally {
    await dc.stop();
  }
  return seen;
}

test('passthrough: the same session as plain debugpy', async () => {
  const python = path.join(BIN, 'python');
  const adapter = cp.execFileSync(python, ['-c',
    'import debugpy, os; print(os.path.join(os.path.dirname(debugpy.__file__), "adapter"))'])
    .toString().trim();
  const plain = await plainSession(client(python, adapter),
                                   Object.assign(launchArgs('unused.db'), { cinescope: undefined }));
  // as VS Code's debugAdapterPath runs it: python .../cinescope/dap_server/adapter.py
  const script = cp.execFileSync(python, ['-c',
    'import cinescope.dap_server as d, os; print(os.path.join(os.path.dirname(d.__file__), "adapter.py"))'])
    .toString().trim();
  const ours = await plainSession(client(python, script), launchArgs('pass.db'));
  assert.equal(ours[0].stepBack, true);
  ours[0].stepBack = false;     // the one difference: cinescope adds Step Back
  assert.deepEqual(ours, plain);
  assert.equal(plain[1].frames[0][1], DEPOSIT);
});

test('cinescope dap --port listens on loopback', async () => {
  const server = cp.spawn(path.join(BIN, 'cinescope'), ['dap', '--port', '0'], { cwd: TMP });
  try {
    const port = await new Promise((resolve, reject) => {
      server.stdout.once('data', (d) => {
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(d.toString());
        m ? resolve(Number(m[1])) : reject(new Error(`unexpected: ${d}`));
      });
      server.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const dc = new DebugClient('unused', 'unused', 'python');
    dc.defaultTimeout = 30000;
    await dc.start(port);
    try {
      const stop = await launchTo(dc, launchArgs('port.db'), [DEPOSIT]);
      const st = await dc.stackTraceRequest({ threadId: stop.threadId });
      assert.equal(st.body.stackFrames[0].line, DEPOSIT);
      const back = await step(dc, dc.stepBackRequest, stop.threadId);
      assert.equal(back.reason, 'step');
    } finally {
      await dc.stop();
    }
  } finally {
    server.kill();
  }
});
