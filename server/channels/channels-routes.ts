import type { Hex } from 'viem'
import {
  channelCallResponse,
  channelIdParams,
  channelResponse,
  channelSettlementResponse,
  channelSignatureBody,
  closeChannelBody,
  listChannelsQuery,
  openChannelBody,
  pageQuery,
  settleChannelResponse,
  topUpChannelBody,
} from '../../protocol/channels'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  closeChannel,
  getChannel,
  listChannelCalls,
  listChannels,
  listChannelSettlements,
  openChannel,
  settleChannel,
  signChannelFunding,
  topUpChannel,
} from './channels-service'

const CHANNEL_ERRORS = {
  400: 'Malformed input; the message names the field',
  401: 'Not authenticated',
  403: 'not_channel_caller (the provider doing what is the caller’s)',
  404: 'channel_not_found (also for anyone but its caller and provider)',
  409: 'channel_not_active, insufficient_balance, channel_not_awaiting_signature',
}

/** Per-call payment channels (seed 004 "Payment Channels"). */
export const channelsRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/channels',
    summary: 'Open a channel to a service, funded from the caller’s vault balance',
    description:
      "The deposit leaves the caller's available balance at once. A managed wallet's ChannelFunding is signed and queued for the vault; a self-custody caller signs `funding_to_sign` and posts it to /v1/channels/{channel_id}/funding-signature. The settlement interval is min(max_settlement_interval, the service's), 100 if neither names one; the price per call and the fee rate are fixed for the channel's life. One open channel per (caller, service).",
    auth: 'agent',
    isIdempotent: true,
    body: openChannelBody,
    responses: {
      201: json(channelResponse, 'Opened'),
      ...errors({
        400: 'Malformed input, self_invocation, service_not_callable',
        401: CHANNEL_ERRORS[401],
        404: 'service_not_found',
        409: 'channel_exists, insufficient_balance',
      }),
    },
    handler: ({ context, agent, body }) => openChannel(context, agent, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/channels',
    summary: "The caller's channels as caller (default) or provider, by status",
    auth: 'agent',
    query: listChannelsQuery,
    responses: {
      200: json(z.array(channelResponse), 'Channels, newest first'),
      ...errors({ 400: CHANNEL_ERRORS[400], 401: CHANNEL_ERRORS[401] }),
    },
    handler: ({ context, agent, query }) => listChannels(context, agent, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/channels/{channel_id}',
    summary: 'One channel (its caller or provider only; 404 for anyone else)',
    auth: 'agent',
    params: channelIdParams,
    responses: {
      200: json(channelResponse, 'The channel'),
      ...errors({
        400: CHANNEL_ERRORS[400],
        401: CHANNEL_ERRORS[401],
        404: CHANNEL_ERRORS[404],
      }),
    },
    handler: ({ context, agent, params }) => getChannel(context, agent, params.channel_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/channels/{channel_id}/top-up',
    summary: 'Add to an active channel’s deposit (its caller only)',
    auth: 'agent',
    isIdempotent: true,
    params: channelIdParams,
    body: topUpChannelBody,
    responses: { 200: json(channelResponse, 'Topped up'), ...errors(CHANNEL_ERRORS) },
    handler: ({ context, agent, params, body }) => topUpChannel(context, agent, params.channel_id, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/channels/{channel_id}/funding-signature',
    summary: "A self-custody caller's signature of its pending ChannelFunding (`funding_to_sign`)",
    auth: 'agent',
    params: channelIdParams,
    body: channelSignatureBody,
    responses: {
      200: json(channelResponse, 'Signed and queued for the vault'),
      ...errors({ ...CHANNEL_ERRORS, 400: 'Malformed input, signature_mismatch' }),
    },
    handler: ({ context, agent, params, body }) =>
      signChannelFunding(context, agent, params.channel_id, body.signature as Hex),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/channels/{channel_id}/settle',
    summary: 'Hand the newest voucher to the next settlement batch (caller or provider)',
    auth: 'agent',
    isIdempotent: true,
    params: channelIdParams,
    responses: {
      200: json(settleChannelResponse, 'The settlement, or why there is none'),
      ...errors(CHANNEL_ERRORS),
    },
    handler: ({ context, agent, params }) => settleChannel(context, agent, params.channel_id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/channels/{channel_id}/close',
    summary:
      'Close the channel: unsettled calls are settled, the rest returns to the caller (caller or provider)',
    description:
      "The newest voucher goes to the vault with the provider's ChannelClose: signed at once for a managed provider; a self-custody provider posts its signature of `close_to_sign` here as `provider_signature`. The refund reaches the caller's available balance when the vault's ChannelClosed is indexed.",
    auth: 'agent',
    isIdempotent: true,
    isBodyOptional: true,
    params: channelIdParams,
    body: closeChannelBody,
    responses: {
      200: json(channelResponse, 'Closing'),
      ...errors({ ...CHANNEL_ERRORS, 400: 'Malformed input, signature_mismatch' }),
    },
    handler: ({ context, agent, params, body }) => closeChannel(context, agent, params.channel_id, body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/channels/{channel_id}/calls',
    summary: 'The per-call log: each call, its voucher and hashes, newest first',
    auth: 'agent',
    params: channelIdParams,
    query: pageQuery,
    responses: {
      200: json(z.array(channelCallResponse), 'Calls'),
      ...errors({
        400: CHANNEL_ERRORS[400],
        401: CHANNEL_ERRORS[401],
        404: CHANNEL_ERRORS[404],
      }),
    },
    handler: ({ context, agent, params, query }) =>
      listChannelCalls(context, agent, params.channel_id, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/channels/{channel_id}/settlements',
    summary: 'The vouchers handed to the vault, with their transaction and status, newest first',
    auth: 'agent',
    params: channelIdParams,
    query: pageQuery,
    responses: {
      200: json(z.array(channelSettlementResponse), 'Settlements'),
      ...errors({
        400: CHANNEL_ERRORS[400],
        401: CHANNEL_ERRORS[401],
        404: CHANNEL_ERRORS[404],
      }),
    },
    handler: ({ context, agent, params, query }) =>
      listChannelSettlements(context, agent, params.channel_id, query),
  }),
]
