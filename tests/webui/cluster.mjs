// A real Stoa cluster for the browser tests: stoa-master and one stoa-slave
// from the build, on loopback with OS-picked ports and their own work dirs,
// stopped by PID when the tests end (also when the test process is killed).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
export const STARTUP_MS = 20000;

const children = new Set();
function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch (_) {
      // already gone
    }
  }
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls `fn` (may be async) until it returns a truthy value or `ms` pass.
export async function waitUntil(fn, ms, what, interval = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}` +
        (last instanceof Error ? ` (last error: ${last.message})` : ''));
    }
    await sleep(interval);
  }
}

// One HTTP request to 127.0.0.1:port; resolves {status, headers, body}.
export function httpRequest(port, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export async function getJSON(port, urlPath) {
  const r = await httpRequest(port, 'GET', urlPath);
  if (r.status !== 200) throw new Error(`GET ${urlPath} answered ${r.status}: ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body);
}

// Only the status of GET `urlPath` (a stream is closed after the head).
export function statusOf(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 3000 }, (res) => {
      resolve(res.statusCode);
      res.destroy();
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

class Child {
  constructor(name, bin, args, logDir) {
    this.name = name;
    this.log = path.join(logDir, `${name}.log`);
    const out = fs.openSync(this.log, 'a');
    this.proc = spawn(bin, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.pid = this.proc.pid;
    this.exited = null;
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        children.delete(this);
        resolve(this.exited);
      });
    });
    children.add(this);
  }

  text() {
    try {
      return fs.readFileSync(this.log, 'utf8');
    } catch (_) {
      return '';
    }
  }

  tail(lines = 20) {
    return this.text().split('\n').slice(-lines).join('\n');
  }

  async port() {
    return Number(await waitUntil(() => {
      if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}):\n${this.tail()}`);
      const m = LISTENING.exec(this.text());
      return m && m[1];
    }, STARTUP_MS, `${this.name} to log 'listening on http://127.0.0.1:PORT'`).catch((e) => {
      throw new Error(`${e.message}\n${this.tail()}`);
    }));
  }

  // SIGTERM, then SIGKILL after `ms`.
  async stop(ms = 5000) {
    if (this.exited) return this.exited;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch (_) {
      return this.exited;
    }
    const t = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch (_) {
        // gone
      }
    }, ms);
    const r = await this.exitPromise;
    clearTimeout(t);
    return r;
  }
}

export function binDir() {
  return process.env.STOA_BIN_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build/bin');
}

export function missingBinaries(names) {
  return names.filter((n) => {
    try {
      fs.accessSync(path.join(binDir(), n), fs.constants.X_OK);
      return false;
    } catch (_) {
      return true;
    }
  });
}

// Whether `stoa-master --help` lists a flag (so the tests can use flags of
// branches that landed, and say so when they have not).
// (--help lists a bool flag as `--[no-]name`.)
export function masterHasFlag(flag) {
  const re = new RegExp(`--(\\[no-\\])?${flag}\\b`);
  try {
    const out = execFileSync(path.join(binDir(), 'stoa-master'), ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return re.test(out);
  } catch (e) {
    return re.test(String(e.stdout || '')) || re.test(String(e.stderr || ''));
  }
}

export class Cluster {
  constructor(root) {
    this.root = root || fs.mkdtempSync(path.join(os.tmpdir(), 'stoa-webui-'));
    this.procs = [];
  }

  async startMaster(extraArgs = []) {
    const args = ['--ip=127.0.0.1', '--port=0', `--work_dir=${path.join(this.root, 'master')}`, ...extraArgs];
    this.master = new Child('master', path.join(binDir(), 'stoa-master'), args, this.root);
    this.procs.push(this.master);
    this.masterPort = await this.master.port();
    await waitUntil(async () => (await httpRequest(this.masterPort, 'GET', '/master/state-summary')).status === 200,
      STARTUP_MS, 'the master to finish recovering');
    return this.masterPort;
  }

  // A new master on the old port and work dir (the slaves re-register with it).
  async restartMaster(extraArgs = []) {
    const old = this.masterPort;
    const args = ['--ip=127.0.0.1', `--port=${old}`, `--work_dir=${path.join(this.root, 'master')}`, ...extraArgs];
    this.master = new Child(`master-restarted-${this.procs.length}`, path.join(binDir(), 'stoa-master'), args, this.root);
    this.procs.push(this.master);
    const port = await this.master.port();
    if (port !== old) throw new Error(`the restarted master listens on ${port}, not on ${old}`);
    await waitUntil(async () => (await httpRequest(port, 'GET', '/master/state-summary')).status === 200,
      STARTUP_MS, 'the restarted master to finish recovering');
    return port;
  }

  async startSlave(resources = 'cpus:4;mem:4096;disk:10000;ports:[31000-32000]') {
    const i = this.procs.filter((p) => p.name.startsWith('slave')).length + 1;
    const args = [`--master=127.0.0.1:${this.masterPort}`, '--ip=127.0.0.1', '--port=0',
      `--work_dir=${path.join(this.root, `slave${i}`)}`, `--resources=${resources}`, `--attributes=rack:r${i}`];
    const slave = new Child(`slave${i}`, path.join(binDir(), 'stoa-slave'), args, this.root);
    this.procs.push(slave);
    await slave.port();
    await waitUntil(async () => {
      const s = await getJSON(this.masterPort, '/master/slaves');
      return s.slaves.length >= i && s.slaves.every((a) => a.active);
    }, STARTUP_MS, `slave${i} to register`);
    return slave;
  }

  // stoa-execute running `command` as task `name`; resolves the task once the master lists it.
  execute(name, command, extra = []) {
    const args = [`--master=127.0.0.1:${this.masterPort}`, `--name=${name}`, `--command=${command}`,
      '--resources=cpus:0.1;mem:32', ...extra];
    const p = new Child(`execute-${name}`, path.join(binDir(), 'stoa-execute'), args, this.root);
    this.procs.push(p);
    return p;
  }

  async taskNamed(name) {
    const s = await getJSON(this.masterPort, '/master/state');
    for (const f of s.frameworks) {
      for (const t of [...f.tasks, ...f.completed_tasks]) if (t.name === name) return t;
    }
    return null;
  }

  logs() {
    return this.procs.map((p) => `----- ${p.name} (${p.log}) -----\n${p.tail(15)}`).join('\n');
  }

  async stop() {
    for (const p of [...this.procs].reverse()) await p.stop();
  }
}

// ---- ZooKeeper (for a leader change) ----------------------------------------

import net from 'node:net';

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';

export function zookeeperMissing() {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch (_) {
    return 'java is not installed';
  }
  return fs.existsSync(ZOOKEEPER_JAR) ? null : `${ZOOKEEPER_JAR} is missing (Debian's zookeeper package)`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The answer of ZooKeeper's `srvr` four-letter command ('' when it does not answer).
function srvr(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => sock.write('srvr'));
    let out = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('data', (d) => { out += d; });
    sock.on('close', () => resolve(out));
    sock.on('error', () => resolve(''));
  });
}

// A standalone ZooKeeper server of the cluster (stopped with it).
Cluster.prototype.startZooKeeper = async function startZooKeeper() {
  const dir = path.join(this.root, 'zookeeper');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'zoo.cfg'), `tickTime=200\ninitLimit=25\nsyncLimit=10\ndataDir=${dir}/data\n` +
    `clientPort=${port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n`);
  const zk = new Child('zookeeper', 'java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
    '-cp', `${dir}:${ZOOKEEPER_JAR}`, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', path.join(dir, 'zoo.cfg')], this.root);
  this.procs.push(zk);
  await waitUntil(async () => {
    if (zk.exited) throw new Error(`ZooKeeper exited:\n${zk.tail()}`);
    return /Mode:/.test(await srvr(port));
  }, 30000, `ZooKeeper to serve on 127.0.0.1:${port}`, 200);
  return `127.0.0.1:${port}`;
};

// Another master of an --zk cluster; resolves its port. The session timeout
// is Mesos' default: a shorter one can expire under a loaded machine and move
// the leadership while a test looks at it.
Cluster.prototype.startZkMaster = async function startZkMaster(label, zkUrl, extraArgs = []) {
  const args = ['--ip=127.0.0.1', '--port=0', `--work_dir=${path.join(this.root, label)}`, `--zk=${zkUrl}`,
    '--zk_session_timeout=10secs', '--no-hostname_lookup', ...extraArgs];
  const m = new Child(label, path.join(binDir(), 'stoa-master'), args, this.root);
  this.procs.push(m);
  return m.port();
};

// ---- stoa-services (tests/webui/services.test.mjs) --------------------------

// stoa-services against this cluster's master on a free loopback port, with
// its own work dir; resolves the port once /ping answers.
Cluster.prototype.startServices = async function startServices(extraArgs = []) {
  const port = await freePort();
  const args = ['--master', `127.0.0.1:${this.masterPort}`, '--hostname', '127.0.0.1', '--http_address', '127.0.0.1',
    '--http_port', String(port), '--work_dir', path.join(this.root, 'services'), ...extraArgs];
  const s = new Child('services', path.join(binDir(), 'stoa-services'), args, this.root);
  this.procs.push(s);
  await waitUntil(async () => {
    if (s.exited) throw new Error(`stoa-services exited (${JSON.stringify(s.exited)}):\n${s.tail()}`);
    return (await httpRequest(port, 'GET', '/ping')).status === 200;
  }, STARTUP_MS, `stoa-services to answer /ping on 127.0.0.1:${port}`).catch((e) => {
    throw new Error(`${e.message}\n${s.tail()}`);
  });
  return port;
};
