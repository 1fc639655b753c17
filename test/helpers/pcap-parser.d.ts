// Types for the parts of the CommonJS package `pcap-parser` the test helpers use.
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events';
  interface PcapPacket {
    header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
    data: Buffer;
  }
  interface PcapGlobalHeader {
    linkLayerType: number;
  }
  interface PcapParser extends EventEmitter {
    on(event: 'globalHeader', cb: (h: PcapGlobalHeader) => void): this;
    on(event: 'packet', cb: (p: PcapPacket) => void): this;
    on(event: 'end', cb: () => void): this;
    on(event: 'error', cb: (e: Error) => void): this;
  }
  const pcapp: { parse(input: string | NodeJS.ReadableStream): PcapParser };
  export default pcapp;
}
