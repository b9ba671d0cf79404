// Who may read the status page and metrics: a list of IPs and CIDRs, checked against the
// connection's peer address, like Apache's `Require ip`. Not request.ip: with Fastify's
// trustProxy that is read from X-Forwarded-For, so `X-Forwarded-For: 127.0.0.1` would open the
// page to anyone. Behind a proxy, allow the proxy's address (and let the proxy decide who may ask).

import { BlockList, isIP } from 'node:net'

export type AllowCheck = (ip: string) => boolean

/** Returns an error message for the first bad entry, or null when every entry is an IP or a CIDR. */
export function checkAllowList (list: unknown): string | null {
  if (!Array.isArray(list)) return `must be an array of IPs and CIDRs such as ['127.0.0.1', '10.0.0.0/8'], got ${JSON.stringify(list)}`
  for (let i = 0; i < list.length; i++) {
    if (parseEntry(list[i]) === null) return `[${i}] must be an IP or a CIDR such as '10.0.0.0/8' or 'fd00::/8', got ${JSON.stringify(list[i])}`
  }
  return null
}

/** Compiles a checked list into a matcher; IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 entries. */
export function compileAllow (list: string[]): AllowCheck {
  const blocks = new BlockList()
  for (const entry of list) {
    const { address, prefix, family } = parseEntry(entry) as Entry
    if (prefix === undefined) blocks.addAddress(address, family)
    else blocks.addSubnet(address, prefix, family)
  }
  return (ip: string) => {
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1]
    if (v4 !== undefined) return blocks.check(v4, 'ipv4') || blocks.check(ip, 'ipv6')
    const family = isIP(ip)
    if (family === 0) return false
    return blocks.check(ip, family === 4 ? 'ipv4' : 'ipv6')
  }
}

interface Entry { address: string, prefix: number | undefined, family: 'ipv4' | 'ipv6' }

function parseEntry (entry: unknown): Entry | null {
  if (typeof entry !== 'string') return null
  const [address, bits, extra] = entry.trim().split('/')
  if (extra !== undefined) return null
  const version = isIP(address)
  if (version === 0) return null
  const family = version === 4 ? 'ipv4' : 'ipv6'
  if (bits === undefined) return { address, prefix: undefined, family }
  const prefix = Number(bits)
  if (!/^\d+$/.test(bits) || prefix > (version === 4 ? 32 : 128)) return null
  return { address, prefix, family }
}
