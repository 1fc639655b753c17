import type { Logger } from 'pino';
import type { TrafficSummary } from './driver.js';
export interface RecordOptions { seconds: number; sessionsPerSecond: number; out: string }
export const record = async (_o: RecordOptions, _l: Logger): Promise<{ traffic: TrafficSummary }> => { throw new Error('todo'); };
