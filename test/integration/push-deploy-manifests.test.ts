// docs/deploy/: the Kubernetes manifests parse, name the kinds and API versions Kubernetes
// serves, and hold together (selectors match labels, Secrets, claims and ports referred to
// exist, every container is bounded); the collector keeps only NET_RAW; the flags they pass are
// flags the built binary documents; the Dockerfile gives tcpdump its capability and runs as a user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';

const DEPLOY = new URL('../../docs/deploy/', import.meta.url).pathname;

interface Container {
  name: string; image: string; args?: string[]; command?: string[];
  env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  ports?: Array<{ name: string; containerPort: number }>;
}
interface PodSpec {
  hostNetwork?: boolean; dnsPolicy?: string; containers: Container[]; initContainers?: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string }; persistentVolumeClaim?: { claimName: string }; hostPath?: { path: string } }>;
}
interface Doc {
  apiVersion: string; kind: string; metadata: { name: string; namespace?: string };
  spec?: { selector?: { matchLabels?: Record<string, string> } & Record<string, string>; replicas?: number; strategy?: { type: string };
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec }; ports?: Array<{ port: number; targetPort: string | number }> };
  stringData?: Record<string, string>;
}

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1', Secret: 'v1', PersistentVolumeClaim: 'v1', Service: 'v1', Deployment: 'apps/v1', DaemonSet: 'apps/v1',
};

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(DEPLOY + file, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

const all = [...load('server.yaml'), ...load('collector-daemonset.yaml')];
const find = (kind: string, name: string) => all.find((d) => d.kind === kind && d.metadata.name === name);
const flagsOf = (args: string[]) => args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]);

function checkPodSpec(owner: Doc, pod: PodSpec): void {
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const where = `${owner.kind}/${owner.metadata.name} container ${c.name}`;
    assert.ok(c.resources?.limits?.cpu && c.resources.limits.memory, `${where}: cpu and memory limits`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where}: drops ALL`);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
    for (const m of c.volumeMounts ?? []) assert.ok(pod.volumes?.some((v) => v.name === m.name), `${where}: volume ${m.name} exists`);
  }
  for (const v of pod.volumes ?? []) {
    if (v.secret) assert.ok(find('Secret', v.secret.secretName), `Secret ${v.secret.secretName} is defined`);
    if (v.persistentVolumeClaim) assert.ok(find('PersistentVolumeClaim', v.persistentVolumeClaim.claimName), `PVC ${v.persistentVolumeClaim.claimName} is defined`);
  }
}

describe('docs/deploy manifests', () => {
  it('every object has a known kind, its API version, a name, and the trustmap namespace', () => {
    assert.deepEqual([...new Set(all.map((d) => d.kind))].sort(), ['DaemonSet', 'Deployment', 'Namespace', 'PersistentVolumeClaim', 'Secret', 'Service']);
    for (const d of all) {
      assert.equal(d.apiVersion, API_VERSIONS[d.kind], `${d.kind} apiVersion`);
      assert.match(d.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (d.kind !== 'Namespace') assert.equal(d.metadata.namespace, 'trustmap', `${d.kind}/${d.metadata.name} namespace`);
    }
  });

  it('the collector DaemonSet: host network, NET_RAW only, node name from the downward API, its token from the Secret', () => {
    const ds = find('DaemonSet', 'trustmap-collector')!;
    const pod = ds.spec!.template!.spec;
    assert.deepEqual(ds.spec!.selector!.matchLabels, ds.spec!.template!.metadata.labels);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    checkPodSpec(ds, pod);
    const c = pod.containers.find((x) => x.name === 'collector')!;
    assert.deepEqual(c.securityContext?.capabilities?.add, ['NET_RAW']);
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.notEqual(c.securityContext?.runAsUser, 0);
    assert.equal(c.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    const args = c.args!;
    assert.deepEqual(args.slice(0, 2), ['collect', 'live']);
    assert.ok(args.includes('--node=$(NODE_NAME)'));
    const tokenFile = args.find((a) => a.startsWith('--token-file='))!.split('=')[1];
    const mount = c.volumeMounts!.find((m) => tokenFile.startsWith(m.mountPath + '/'))!;
    assert.ok(mount, 'the token file is on a mounted volume');
    assert.equal(pod.volumes!.find((v) => v.name === mount.name)?.secret?.secretName, 'trustmap-collector');
    const push = new URL(args.find((a) => a.startsWith('--push='))!.slice('--push='.length));
    const svc = find('Service', push.hostname.split('.')[0])!;
    assert.ok(svc, 'the push URL names the Service');
    assert.equal(push.hostname.split('.')[1], svc.metadata.namespace);
    assert.ok(svc.spec!.ports!.some((p) => String(p.port) === push.port));
    assert.ok(args.includes(`--filter=not tcp port ${push.port}`), 'its own pushes are not captured');
    // The init container only chowns the spool: CHOWN and nothing else.
    const init = pod.initContainers!.find((x) => x.name === 'spool-owner')!;
    assert.deepEqual(init.securityContext?.capabilities?.add, ['CHOWN']);
  });

  it('the server: one replica recreated (one SQLite writer), its claim, a Service that selects it, the token files from the Secret', () => {
    const dep = find('Deployment', 'trustmap-server')!;
    const pod = dep.spec!.template!.spec;
    assert.equal(dep.spec!.replicas, 1);
    assert.equal(dep.spec!.strategy!.type, 'Recreate');
    assert.deepEqual(dep.spec!.selector!.matchLabels, dep.spec!.template!.metadata.labels);
    checkPodSpec(dep, pod);
    const c = pod.containers[0];
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.capabilities?.add, undefined, 'the server needs no capability');
    const svc = find('Service', 'trustmap')!;
    for (const [k, v] of Object.entries(svc.spec!.selector!)) assert.equal(dep.spec!.template!.metadata.labels[k], v);
    for (const p of svc.spec!.ports!) assert.ok(c.ports!.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort));
    const secret = find('Secret', 'trustmap-server')!;
    const mount = c.volumeMounts!.find((m) => pod.volumes!.find((v) => v.name === m.name)?.secret)!;
    for (const flag of ['--token-file', '--ingest-tokens']) {
      const path = c.args!.find((a) => a.startsWith(`${flag}=`))!.split('=')[1];
      assert.equal(path.slice(0, mount.mountPath.length + 1), `${mount.mountPath}/`);
      assert.ok(path.slice(mount.mountPath.length + 1) in secret.stringData!, `${flag}: a key of the Secret`);
    }
    assert.match(secret.stringData!['ingest-tokens'], /^\S+ \S+$/m, 'node-name token lines');
  });

  it('every flag the manifests pass is one the binary documents', () => {
    const dep = find('Deployment', 'trustmap-server')!.spec!.template!.spec.containers[0];
    const col = find('DaemonSet', 'trustmap-collector')!.spec!.template!.spec.containers[0];
    for (const [words, args] of [[['serve'], dep.args!], [['collect', 'live'], col.args!]] as const) {
      const help = runCli([...words, '--help']);
      assert.equal(help.code, 0, help.stderr);
      for (const f of flagsOf(args)) assert.ok(help.stdout.includes(`  ${f} `), `${words.join(' ')} documents ${f}`);
    }
  });

  it('the Dockerfile: node:20-slim, tcpdump with cap_net_raw as its only capability, an unprivileged user', () => {
    const df = readFileSync(DEPLOY + 'Dockerfile', 'utf8');
    const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length > 0 && froms.every((f) => f === 'node:20-slim'), froms.join(', '));
    assert.match(df, /apt-get install[^\n]*tcpdump/);
    assert.match(df, /setcap cap_net_raw\+ep \/usr\/bin\/tcpdump/);
    const user = [...df.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    assert.ok(user !== undefined && user !== 'root' && user !== '0', `runs as ${user}`);
  });
});
