// Link layers, by LINKTYPE_ value (https://www.tcpdump.org/linktypes.html). Each strips its
// header and hands the network layer to ip.ts; nothing is copied.
import { u16be, u32be, u32le } from '../sources/pcap/bytes.js';
import { UnsupportedInputError } from '../sources/pcap/errors.js';
import { decodeIp } from './ip.js';
import { MALFORMED, SKIP, type DecodedPacket, type Verdict } from './packet.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
// DLT_RAW is 12 on most BSDs and 14 on OpenBSD; savefiles written there may carry either.
const DLT_RAW_BSD = 12;
const DLT_RAW_OPENBSD = 14;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

export function isSupportedLinkType(linkType: number): boolean {
  switch (linkType) {
    case LINKTYPE_NULL: case LINKTYPE_ETHERNET: case LINKTYPE_RAW: case LINKTYPE_LOOP:
    case LINKTYPE_LINUX_SLL: case LINKTYPE_IPV4: case LINKTYPE_IPV6: case LINKTYPE_LINUX_SLL2:
    case DLT_RAW_BSD: case DLT_RAW_OPENBSD:
      return true;
    default:
      return false;
  }
}

export function decodeLink(p: DecodedPacket, linkType: number, b: Uint8Array, i: number, end: number): Verdict {
  switch (linkType) {
    case LINKTYPE_ETHERNET: return decodeEthernet(p, b, i, end);
    case LINKTYPE_LINUX_SLL2:
      // SLL2 (§ LINKTYPE_LINUX_SLL2): protocol type first, 20-byte header.
      if (end - i < 20) return truncated(p);
      return byEthertype(p, u16be(b, i), b, i + 20, end);
    case LINKTYPE_LINUX_SLL:
      if (end - i < 16) return truncated(p);
      return byEthertype(p, u16be(b, i + 14), b, i + 16, end);
    case LINKTYPE_RAW: case LINKTYPE_IPV4: case LINKTYPE_IPV6: case DLT_RAW_BSD: case DLT_RAW_OPENBSD:
      return decodeIp(p, b, i, end);
    case LINKTYPE_NULL: case LINKTYPE_LOOP: {
      if (end - i < 4) return truncated(p);
      // NULL stores the address family in the writer's byte order, LOOP in network order; the
      // families we care about are all < 256, so whichever reading is small is the right one.
      const le = u32le(b, i);
      const family = le < 256 ? le : u32be(b, i);
      // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD, 10 on Linux.
      if (family === 2 || family === 24 || family === 28 || family === 30 || family === 10) return decodeIp(p, b, i + 4, end);
      return SKIP;
    }
    default:
      throw new UnsupportedInputError(`unsupported link type ${linkType} (supported: Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback)`);
  }
}

export function decodeEthernet(p: DecodedPacket, b: Uint8Array, i: number, end: number): Verdict {
  if (end - i < 14) return truncated(p);
  return byEthertype(p, u16be(b, i + 12), b, i + 14, end);
}

function byEthertype(p: DecodedPacket, type: number, b: Uint8Array, i: number, end: number): Verdict {
  // 802.1Q and QinQ tags: 4 bytes each (TCI + inner ethertype); at most a few, so bound it.
  for (let tags = 0; (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) && tags < 4; tags++) {
    if (end - i < 4) return truncated(p);
    type = u16be(b, i + 2);
    i += 4;
  }
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return decodeIp(p, b, i, end);
  return SKIP;
}

function truncated(p: DecodedPacket): Verdict {
  p.reason = 'link-truncated';
  return MALFORMED;
}
