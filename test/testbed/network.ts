// The node's network, built from definitions.ts: one namespace per pod on a bridge, routed
// through the root namespace, with kube-proxy-style DNAT for Services and a fence that keeps
// every packet inside the testbed.
//
// Each pod gets a /32 and a default route via the bridge address (onlink), so even pod-to-pod
// traffic on the same bridge is routed by the root namespace. That keeps conntrack on both
// directions of a DNAT'ed connection without depending on br_netfilter (the "hairpin" problem:
// on a plain bridge the reply from pod B to pod A would be bridged and never un-DNAT'ed).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { PodDef, ServiceDef } from './definitions.js';
import { BRIDGE, endpointsOf, NODE_IP, PODS, POD_CIDR, PREFIX, SERVICES, netnsName, vethName } from './definitions.js';
import { ipNetns, run, tryRun } from './exec.js';

const CHAIN = 'TM-KUBE-SERVICES';
const FENCE_FORWARD = 'TM-FORWARD';
const FENCE_INPUT = 'TM-INPUT';
const NAT_HOOKS = ['PREROUTING', 'OUTPUT'];
const FILTER_HOOKS: Array<[string, string]> = [['FORWARD', FENCE_FORWARD], ['INPUT', FENCE_INPUT]];

/** Root-namespace sysctls the testbed changes; their old values are kept in the state file. */
export const ROOT_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  // The bridge routes pod-to-pod traffic back out of the interface it came in on; without this
  // every such first packet would also produce an ICMP redirect in the capture.
  'net.ipv4.conf.all.send_redirects': '0',
};

const sysctl = (name: string, value?: string): string =>
  value === undefined ? run('sysctl', ['-n', name]).trim() : run('sysctl', ['-qw', `${name}=${value}`]);

// kube-proxy names its chains KUBE-SVC-<base32(sha256(...))[:16]>; ours carry the tm- prefix.
const chainHash = (text: string): string =>
  createHash('sha256').update(text).digest('base64').replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, 12);

const ipt = (table: string, args: string[]): string => run('iptables', ['-w', '5', '-t', table, ...args]);

const setUpPod = (p: PodDef): void => {
  const ns = netnsName(p);
  const veth = vethName(p);
  const peer = `${PREFIX}p${PODS.indexOf(p)}`;
  run('ip', ['netns', 'add', ns]);
  // No IPv6 in the testbed: router solicitations and MLD reports would only add noise.
  ipNetns(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
  run('sysctl', ['-qw', `net.ipv6.conf.${veth}.disable_ipv6=1`]);
  run('ip', ['link', 'set', peer, 'netns', ns]);
  ipNetns(ns, ['ip', 'link', 'set', peer, 'name', 'eth0']);
  ipNetns(ns, ['ip', 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0']);
  ipNetns(ns, ['ip', 'link', 'set', 'lo', 'up']);
  ipNetns(ns, ['ip', 'link', 'set', 'eth0', 'up']);
  ipNetns(ns, ['ip', 'route', 'add', 'default', 'via', NODE_IP, 'dev', 'eth0', 'onlink']);
  run('ip', ['link', 'set', veth, 'master', BRIDGE, 'up']);
  if (!p.ip.startsWith('10.244.')) run('ip', ['route', 'add', `${p.ip}/32`, 'dev', BRIDGE, 'src', NODE_IP]);
  // What the kubelet writes into a pod's /etc/resolv.conf (ClusterFirst); `ip netns exec` mounts it.
  if (p.isInCluster) {
    fs.mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${ns}/resolv.conf`,
      `search ${p.namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n`);
  }
};

/** kube-proxy (iptables mode): KUBE-SERVICES → KUBE-SVC-* → random KUBE-SEP-* → DNAT. */
const setUpService = (s: ServiceDef): void => {
  const eps = endpointsOf(s);
  for (const port of s.ports) {
    const id = `${s.namespace}/${s.name}:${port.name}`;
    const svcChain = `TM-KUBE-SVC-${chainHash(id)}`;
    const proto = port.protocol.toLowerCase();
    ipt('nat', ['-N', svcChain]);
    const comment = ['-m', 'comment', '--comment', `${s.namespace}/${s.name}:${port.name}`];
    ipt('nat', ['-A', CHAIN, '-d', `${s.clusterIP}/32`, '-p', proto, '--dport', String(port.port), ...comment, '-j', svcChain]);
    if (s.loadBalancerIP) {
      const extChain = `TM-KUBE-EXT-${chainHash(id)}`;
      ipt('nat', ['-N', extChain]);
      ipt('nat', ['-A', extChain, '-j', svcChain]);
      ipt('nat', ['-A', CHAIN, '-d', `${s.loadBalancerIP}/32`, '-p', proto, '--dport', String(port.port), ...comment, '-j', extChain]);
    }
    eps.forEach((ep, i) => {
      const sepChain = `TM-KUBE-SEP-${chainHash(`${id}:${ep.ip}`)}`;
      ipt('nat', ['-N', sepChain]);
      ipt('nat', ['-A', sepChain, '-p', proto, ...comment, '-j', 'DNAT', '--to-destination', `${ep.ip}:${port.targetPort}`]);
      const left = eps.length - i;
      const pick = left > 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', (1 / left).toFixed(11)] : [];
      ipt('nat', ['-A', svcChain, ...comment, ...pick, '-j', sepChain]);
    });
  }
};

export const setUpNetwork = (): Record<string, string> => {
  const saved: Record<string, string> = {};
  for (const [name, value] of Object.entries(ROOT_SYSCTLS)) {
    saved[name] = sysctl(name);
    sysctl(name, value);
  }
  run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  run('sysctl', ['-qw', `net.ipv6.conf.${BRIDGE}.disable_ipv6=1`]);
  run('ip', ['addr', 'add', `${NODE_IP}/${POD_CIDR.split('/')[1]}`, 'dev', BRIDGE]);
  run('ip', ['link', 'set', BRIDGE, 'up']);

  // The fence: testbed packets may only go from the bridge to the bridge, and the root namespace
  // only accepts replies from it (kubelet probes), never new connections.
  ipt('filter', ['-N', FENCE_FORWARD]);
  ipt('filter', ['-A', FENCE_FORWARD, '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT']);
  ipt('filter', ['-A', FENCE_FORWARD, '-i', BRIDGE, '-j', 'DROP']);
  ipt('filter', ['-A', FENCE_FORWARD, '-o', BRIDGE, '-j', 'DROP']);
  ipt('filter', ['-N', FENCE_INPUT]);
  ipt('filter', ['-A', FENCE_INPUT, '-i', BRIDGE, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
  ipt('filter', ['-A', FENCE_INPUT, '-i', BRIDGE, '-j', 'DROP']);
  for (const [hook, chain] of FILTER_HOOKS) ipt('filter', ['-I', hook, '1', '-j', chain]);

  ipt('nat', ['-N', CHAIN]);
  for (const hook of NAT_HOOKS) ipt('nat', ['-I', hook, '1', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', CHAIN]);
  for (const p of PODS) setUpPod(p);
  for (const s of SERVICES) setUpService(s);
  return saved;
};

/** Removes everything with the testbed's prefix, whether or not a state file survived. */
export const tearDownNetwork = (saved: Record<string, string> | null): string[] => {
  const removed: string[] = [];
  const prefixRule = /-j (TM-[A-Z0-9-]+)/;
  for (const table of ['nat', 'filter']) {
    const rules = tryRunOut('iptables', ['-w', '5', '-t', table, '-S']);
    for (const line of rules.split('\n')) {
      if (line.startsWith('-A ') && !line.startsWith('-A TM-') && prefixRule.test(line)) {
        const args = splitRule(line.replace(/^-A /, '-D '));
        if (tryRun('iptables', ['-w', '5', '-t', table, ...args])) removed.push(`iptables -t ${table} ${line}`);
      }
    }
    const chains = rules.split('\n').filter((l) => l.startsWith('-N TM-')).map((l) => l.slice(3));
    for (const c of chains) tryRun('iptables', ['-w', '5', '-t', table, '-F', c]);
    for (const c of chains) if (tryRun('iptables', ['-w', '5', '-t', table, '-X', c])) removed.push(`chain ${table}/${c}`);
  }
  for (const ns of listNetns()) {
    if (tryRun('ip', ['netns', 'del', ns])) removed.push(`netns ${ns}`);
    fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  for (const dir of fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns') : []) {
    if (dir.startsWith(PREFIX)) fs.rmSync(`/etc/netns/${dir}`, { recursive: true, force: true });
  }
  for (const link of listLinks()) if (tryRun('ip', ['link', 'del', link])) removed.push(`link ${link}`);
  for (const [name, value] of Object.entries(saved ?? {})) {
    if (tryRun('sysctl', ['-qw', `${name}=${value}`])) removed.push(`sysctl ${name}=${value}`);
  }
  return removed;
};

const tryRunOut = (cmd: string, args: string[]): string => {
  try {
    return run(cmd, args);
  } catch {
    return '';
  }
};

/** iptables -S quotes comments containing spaces; split like a shell would. */
const splitRule = (line: string): string[] =>
  [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');

export const listNetns = (): string[] =>
  tryRunOut('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(PREFIX));

export const listLinks = (): string[] =>
  tryRunOut('ip', ['-o', 'link', 'show']).split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '').filter((n) => n.startsWith(PREFIX));

export const listIptables = (): string[] =>
  ['nat', 'filter'].flatMap((t) => tryRunOut('iptables', ['-w', '5', '-t', t, '-S']).split('\n')
    .filter((l) => l.includes('TM-')).map((l) => `${t}: ${l}`));

/** The pids of processes living in the testbed's namespaces (for `down` after a crash). */
export const netnsPids = (): number[] =>
  listNetns().flatMap((ns) => tryRunOut('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number));
