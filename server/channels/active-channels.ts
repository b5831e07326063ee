import type { ChannelRow } from './channels-queries'

// The active channel of each (caller, service) this process called on, with its newest voucher:
// the fast path checks a voucher without reading the channel. A stale entry (a call recorded, a
// top-up or a close made through another replica) can only refuse a call, never take one
// wrongly, because recording advances a channel only from the state its call was checked on; a
// refusal that depends on the channel's state reads it again before it stands.

const activeChannels = new Map<string, ChannelRow>()
const MAX_CACHED_CHANNELS = 100_000

const channelKey = (callerId: string, serviceId: string) => `${callerId}:${serviceId}`

/** The channel this process remembers for (caller, service), if any. */
export function rememberedChannel(callerId: string, serviceId: string): ChannelRow | undefined {
  return activeChannels.get(channelKey(callerId, serviceId))
}

/** Remembers an active channel's state (and forgets one that is not active). */
export function remember(channel: ChannelRow): void {
  const key = channelKey(channel.caller_agent_id, channel.service_id)
  activeChannels.delete(key)
  if (channel.status !== 'active') return
  if (activeChannels.size >= MAX_CACHED_CHANNELS) activeChannels.delete(activeChannels.keys().next().value!)
  activeChannels.set(key, channel)
}

/** Drops what this process remembers of a channel (its deposit, status or voucher changed). */
export function forgetCallChannel(channel: Pick<ChannelRow, 'caller_agent_id' | 'service_id'>): void {
  activeChannels.delete(channelKey(channel.caller_agent_id, channel.service_id))
}
