/**
 * The Docker backend, for real: the two-host topology written for namespaces runs unchanged in
 * containers (dockerode, network mode none, the offline node image), our stack moves data with
 * integrity over both paths, a knob change reads back, and down leaves no container, network,
 * namespace or veth. A mixed lab puts a container and a namespace on the same links.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_LABEL } from '../../../lab/backends/docker';
import { buildImage } from '../../../lab/images/build';
import { Lab } from '../../../lab/lab';
import { labDir } from '../../../lab/state';
import { loadTopology } from '../../../lab/topology/index';
import { caps } from '../../helpers/caps';
import { ensureDistAgent, root } from '../lab/bundle';
import { labName, labScope, leftovers, madeLabs, NOTHING } from '../lab/helpers';

const twoHost = join(root, 'topologies/two-host.yaml');
const docker = new Docker();

async function containersOf(lab: string) {
  return docker.listContainers({ all: true, filters: { label: [`${LAB_LABEL}=${lab}`] } });
}

/** veth ends left in the host's own namespace (a lab never puts one there). */
function hostVeths(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

describe.skipIf(!caps.netns || !caps.docker)('docker backend', () => {
  labScope();
  let networksBefore = 0;
  beforeAll(async () => {
    await ensureDistAgent();
    networksBefore = (await docker.listNetworks()).length;
  }, 180_000);
  afterAll(async () => {
    // whatever a failed test left: containers of the labs this file made, by their exact names
    for (const lab of madeLabs())
      for (const c of await containersOf(lab)) await docker.getContainer(c.Id).remove({ force: true });
  });

  it('runs two-host in containers: traffic over both paths with integrity, a knob, and a clean down', async () => {
    const name = labName('d');
    const veths = hostVeths().length;
    const lab = await Lab.up(twoHost, { name, backend: 'docker' });
    const cs = await containersOf(name);
    expect(cs.map((c) => c.Labels['mplab.node']).sort()).toEqual(['a', 'b']);
    for (const c of cs) {
      expect(c.State).toBe('running');
      expect(c.HostConfig.NetworkMode).toBe('none');
    }
    // the interfaces are inside the containers, seen from the container's own tools
    const ifs = await lab.exec('a', ['ip', '-br', 'addr']);
    expect(ifs.stdout).toMatch(/^eth1\S*\s+UP\s+10\.0\.1\.1\/24/m);
    expect(ifs.stdout).toMatch(/^eth2\S*\s+UP\s+10\.0\.2\.1\/24/m);

    const set = await lab.sysctl('all', ['net.mptcp.mptcp_scheduler=roundrobin']);
    expect(set.map((r) => r.value)).toEqual(['roundrobin', 'roundrobin']);
    expect((await lab.sysctl('b', ['net.mptcp.mptcp_scheduler']))[0]?.value).toBe('roundrobin');

    const r = await lab.run({ from: 'a', to: 'b', timeMs: 3000, stack: 'ts' });
    expect(r.integrity).toBe('ok');
    const carrying = r.subflows.filter((s) => s.bytes > 100_000);
    expect(new Set(carrying.map((s) => s.local.split(':')[0]))).toEqual(new Set(['10.0.1.1', '10.0.2.1']));
    // a sanity bound only: both paths carrying is asserted above; the rate is bench/'s business
    expect(r.goodputMbps).toBeGreaterThan(1);

    await lab.down();
    expect(await containersOf(name)).toEqual([]);
    expect(leftovers(name)).toEqual(NOTHING);
    expect(hostVeths().length).toBe(veths);
    expect((await docker.listNetworks()).length).toBe(networksBefore);
  });

  it('mixes a container node and a namespace node on the same links', async () => {
    const name = labName('m');
    const model = await loadTopology(twoHost, { name });
    model.nodes = model.nodes.map((n) => (n.name === 'a' ? { ...n, backend: 'docker' } : n));
    const lab = await Lab.up(model);
    const cs = await containersOf(name);
    expect(cs.map((c) => c.Labels['mplab.node'])).toEqual(['a']);
    const r = await lab.run({ from: 'b', to: 'a', bytes: 4_000_000, stack: 'ts' });
    expect(r.integrity).toBe('ok');
    expect(r.bytes).toBe(4_000_000);
    await lab.down();
    expect(await containersOf(name)).toEqual([]);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('down --all finds containers whose lab state is gone', async () => {
    const name = labName('s');
    await Lab.up(twoHost, { name, backend: 'docker' });
    rmSync(labDir(name), { recursive: true, force: true });
    expect((await containersOf(name)).length).toBe(2);
    await Lab.downAll((n) => n === name || n.startsWith(`${name}-`));
    expect(await containersOf(name)).toEqual([]);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('builds the node image offline, and rebuilds only when an input changes', async () => {
    // A scratch copy of the definition under another repository name, so the lab's image is untouched.
    const dir = mkdtempSync(join(tmpdir(), 'mplab-image-'));
    try {
      cpSync(join(root, 'images'), join(dir, 'images'), { recursive: true });
      const defPath = join(dir, 'images/node/image.json');
      const def = JSON.parse(readFileSync(defPath, 'utf8')) as { repository: string };
      def.repository = `mplab-node-test-${process.pid}`;
      writeFileSync(defPath, JSON.stringify(def));
      cpSync(join(root, 'dist/agent.js'), join(dir, 'dist/agent.js'));
      const first = await buildImage({ root: dir });
      expect(first.built).toBe(true);
      const again = await buildImage({ root: dir });
      expect(again).toMatchObject({ built: false, id: first.id });
      writeFileSync(
        join(dir, 'dist/agent.js'),
        `${readFileSync(join(dir, 'dist/agent.js'), 'utf8')}\n// changed\n`,
      );
      const changed = await buildImage({ root: dir });
      expect(changed.built).toBe(true);
      expect(changed.id).not.toBe(first.id);
      // the image runs the agent with the image's own node
      const out = execFileSync(
        'docker',
        ['run', '--rm', '--network', 'none', changed.tag, 'node', '/opt/mplab/agent.js', '--version'],
        {
          encoding: 'utf8',
        },
      );
      expect(out.trim()).toMatch(/\d+\.\d+\.\d+/);
      await docker.getImage(changed.tag).remove({ force: true });
      await docker
        .getImage(first.id)
        .remove({ force: true })
        .catch(() => {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
