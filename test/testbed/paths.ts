// Where a running testbed keeps its state. Network namespaces do not isolate the filesystem, so
// the control sockets here reach every pod's process without touching the pod network.
import * as path from 'node:path';
import type { PodDef } from './definitions.js';
import { PODS } from './definitions.js';

export const RUN_DIR = process.env.TRUSTMAP_TESTBED_RUN_DIR ?? '/run/trustmap-testbed';
export const STATE_FILE = path.join(RUN_DIR, 'state.json');
export const PKI_DIR = path.join(RUN_DIR, 'pki');
export const CTL_DIR = path.join(RUN_DIR, 'ctl');
export const LOG_DIR = path.join(RUN_DIR, 'logs');
export const PID_DIR = path.join(RUN_DIR, 'pids');
export const BUNDLE = path.join(RUN_DIR, 'pod.mjs');

export const ctlSocket = (p: PodDef): string => path.join(CTL_DIR, `${PODS.indexOf(p)}.sock`);
export const pkiFile = (name: string, ext: 'crt' | 'key'): string => path.join(PKI_DIR, `${name}.${ext}`);
