import type { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import { ChannelCaller } from '../channel-caller'
import { ClearhouseClient } from '../client'
import { resolveSettings, writeConfig } from './config'
import { positiveInteger, type CliOutput } from './output'

/** What every command needs: the output, whether `--json` was asked, and a client configured from flags, env and config. */
export interface CommandContext {
  output: CliOutput
  isJson(command: Command): boolean
  client(command: Command, options?: { isKeyRequired?: boolean }): Promise<ClearhouseClient>
}

export function commandContext(output: CliOutput): CommandContext {
  return {
    output,
    isJson: (command) => Boolean(command.optsWithGlobals().json),
    async client(command, options = {}) {
      const settings = await resolveSettings(command.optsWithGlobals())
      const wallet = settings.privateKey ? privateKeyToAccount(settings.privateKey) : undefined
      if (options.isKeyRequired !== false && !settings.apiKey && !wallet) {
        output.fail(
          'not logged in: run `clearhouse register` or `clearhouse login --key <api key>` (or set CLEARHOUSE_API_KEY)',
        )
      }
      return new ClearhouseClient({
        baseUrl: settings.apiUrl,
        ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
        ...(wallet ? { wallet } : {}),
      })
    },
  }
}

/** `--json` prints the API's answer as it is; otherwise `human` prints it for people. */
function show<T>(context: CommandContext, command: Command, value: T, human: (value: T) => void): void {
  if (context.isJson(command)) context.output.json(value)
  else human(value)
}

/** Parses `--input` as JSON, or takes it as a plain string when it is not JSON. */
function parseInput(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Polls `check` until it says done, with a spinner on a terminal; `what` names what is awaited. */
async function waitFor<T>(
  output: CliOutput,
  what: string,
  check: () => Promise<{ isDone: boolean; value: T }>,
  timeoutMs = 120_000,
): Promise<T> {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  const deadline = Date.now() + timeoutMs
  for (let tick = 0; ; tick += 1) {
    const { isDone, value } = await check()
    if (isDone) {
      output.progress(null)
      return value
    }
    if (Date.now() > deadline) output.fail(`timed out waiting for ${what}`)
    output.progress(`${frames[tick % frames.length]} waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

export function registerAccountCommands(program: Command, context: CommandContext): void {
  const { output } = context
  program
    .command('register')
    .description('create an agent (with a managed wallet) and store its API key in the config')
    .option('--handle <handle>', 'its handle (3-20 lowercase letters, digits, _)')
    .option('--no-save', 'print the key without storing it')
    .action(async (options: { handle?: string; save: boolean }, command: Command) => {
      const settings = await resolveSettings(command.optsWithGlobals())
      const client = new ClearhouseClient({ baseUrl: settings.apiUrl })
      const registered = await client.agents.register(options.handle ? { handle: options.handle } : {})
      if (options.save)
        await writeConfig({ ...settings.config, api_url: settings.apiUrl, api_key: registered.api_key })
      show(context, command, registered, (agent) =>
        output.record({
          agent_id: agent.agent_id,
          handle: agent.handle,
          wallet: agent.wallet_address,
          api_key: agent.api_key,
          saved: options.save ? 'yes (clearhouse login is not needed)' : 'no',
        }),
      )
    })
  program
    .command('login')
    .description('check an API key against the coordinator and store it in the config')
    .requiredOption('--key <api key>', 'the agent’s API key')
    .action(async (options: { key: string }, command: Command) => {
      const settings = await resolveSettings(command.optsWithGlobals())
      const me = await new ClearhouseClient({ baseUrl: settings.apiUrl, apiKey: options.key }).agents.me()
      await writeConfig({ ...settings.config, api_url: settings.apiUrl, api_key: options.key })
      show(context, command, me, (agent) => output.line(`logged in as ${agent.handle} (${agent.agent_id})`))
    })
  program
    .command('whoami')
    .description('the agent the stored key belongs to')
    .action(async (_options: unknown, command: Command) => {
      const me = await (await context.client(command)).agents.me()
      show(context, command, me, (agent) =>
        output.record({ agent_id: agent.agent_id, handle: agent.handle, wallet: agent.wallet_address }),
      )
    })
}

export function registerJobCommands(program: Command, context: CommandContext): void {
  const { output } = context
  const jobs = program.command('jobs').description('the job flow: post, bid, award, submit, accept, dispute')
  jobs
    .command('list')
    .description('open jobs (or --status), newest first')
    .option('--status <status>', 'open, in_progress, completed, …')
    .option('--mine', 'only jobs I created')
    .option('--limit <n>', 'how many', positiveInteger, 20)
    .action(async (options: { status?: string; mine?: boolean; limit: number }, command: Command) => {
      const client = await context.client(command)
      const creator = options.mine ? (await client.agents.me()).agent_id : undefined
      const list = (await client.jobs.list({
        ...(options.status ? { status: options.status as never } : {}),
        ...(creator ? { creator } : {}),
        limit: options.limit,
      })) as { job_id: string; status: string; budget_amount: string | null; title: string }[]
      show(context, command, list, (rows) =>
        output.table(
          ['job_id', 'status', 'budget', 'title'],
          rows.map((job) => [job.job_id, job.status, job.budget_amount ?? '-', job.title]),
        ),
      )
    })
  jobs
    .command('create')
    .description('post a job; its budget is checked against your balance')
    .requiredOption('--title <title>', '10-200 characters')
    .requiredOption('--description <text>', 'at least 50 characters')
    .option('--budget <amount>', 'in the job’s token, e.g. 10')
    .option('--tags <tags>', 'comma-separated')
    .action(
      async (
        options: { title: string; description: string; budget?: string; tags?: string },
        command: Command,
      ) => {
        const job = await (
          await context.client(command)
        ).jobs.create({
          title: options.title,
          description: options.description,
          ...(options.budget ? { budget_amount: options.budget } : {}),
          ...(options.tags ? { tags: options.tags.split(',').map((tag) => tag.trim()) } : {}),
        })
        show(context, command, job, (created) =>
          output.record({
            job_id: created.job_id,
            status: created.status,
            budget: created.budget_amount,
            title: created.title,
          }),
        )
      },
    )
  jobs
    .command('show <job_id>')
    .description('a job with its bids (to its creator) and assignments')
    .action(async (jobId: string, _options: unknown, command: Command) => {
      const job = await (await context.client(command)).jobs.get(jobId)
      show(context, command, job, (detail) =>
        output.record({
          job_id: detail.job_id,
          status: detail.status,
          title: detail.title,
          budget: detail.budget_amount,
          creator: detail.creator_agent_id,
          bids: detail.bid_count,
        }),
      )
    })
  jobs
    .command('bid <job_id>')
    .description('bid on a job')
    .requiredOption('--amount <amount>', 'what you ask')
    .option('--eta <seconds>', 'when you will deliver', positiveInteger, 3600)
    .option('--proposal <text>', 'why you')
    .action(
      async (
        jobId: string,
        options: { amount: string; eta: number; proposal?: string },
        command: Command,
      ) => {
        const bid = await (
          await context.client(command)
        ).jobs.bid(jobId, {
          amount: options.amount,
          eta_seconds: options.eta,
          ...(options.proposal ? { proposal: options.proposal } : {}),
        })
        show(context, command, bid, (placed) =>
          output.record({
            bid_id: placed.bid_id,
            job_id: placed.job_id,
            amount: placed.amount,
            status: placed.status,
          }),
        )
      },
    )
  jobs
    .command('award <job_id>')
    .description('award a bid: its amount is locked in escrow on the vault')
    .requiredOption('--bid <bid_id>', 'the bid')
    .action(async (jobId: string, options: { bid: string }, command: Command) => {
      const client = await context.client(command)
      let award = await client.jobs.award(jobId, { bid_id: options.bid })
      if (award.assignment.status === 'awaiting_escrow' && client.walletAddress) {
        award = {
          ...award,
          assignment: await client.assignments.signPendingEscrow(award.assignment.assignment_id),
        }
      }
      show(context, command, award, (result) =>
        output.record({
          assignment_id: result.assignment.assignment_id,
          worker: result.assignment.worker_agent_id,
          escrow: result.assignment.escrow_amount,
          status: result.assignment.status,
        }),
      )
    })
  jobs
    .command('submit <job_id>')
    .description('submit your deliverable (text or a URL)')
    .requiredOption('--deliverable <text>', 'the work, or where it is')
    .action(async (jobId: string, options: { deliverable: string }, command: Command) => {
      const assignment = await (
        await context.client(command)
      ).jobs.submit(jobId, { deliverable: options.deliverable })
      show(context, command, assignment, (result) =>
        output.record({ assignment_id: result.assignment_id, status: result.status }),
      )
    })
  jobs
    .command('accept <job_id>')
    .description('accept submitted work: the escrow is released to the worker, less the fee')
    .option('--assignment <assignment_id>', 'one assignment of a job with several')
    .action(async (jobId: string, options: { assignment?: string }, command: Command) => {
      const client = await context.client(command)
      const accepted = await client.jobs.accept(
        jobId,
        options.assignment ? { assignment_id: options.assignment } : {},
      )
      show(context, command, accepted, (result) =>
        output.record({
          job_id: result.job.job_id,
          job_status: result.job.status,
          accepted: result.assignments.map((assignment) => assignment.assignment_id).join(', '),
        }),
      )
    })
  jobs
    .command('dispute <job_id>')
    .description('dispute submitted work (creator) or a rejection (worker)')
    .requiredOption('--reason <text>', 'what is wrong')
    .option('--assignment <assignment_id>', 'which worker’s assignment')
    .action(async (jobId: string, options: { reason: string; assignment?: string }, command: Command) => {
      const dispute = await (
        await context.client(command)
      ).jobs.dispute(jobId, {
        reason: options.reason,
        ...(options.assignment ? { assignment_id: options.assignment } : {}),
      })
      show(context, command, dispute, (opened) =>
        output.record({ dispute_id: opened.dispute_id, status: opened.status }),
      )
    })
}

export function registerServiceCommands(program: Command, context: CommandContext): void {
  const { output } = context
  const services = program.command('services').description('the service registry and the invoke proxy')
  services
    .command('list')
    .description('browse services')
    .option('--category <category>')
    .option('--search <text>')
    .action(async (options: { category?: string; search?: string }, command: Command) => {
      const list = await (
        await context.client(command)
      ).services.list({
        ...(options.category ? { category: options.category } : {}),
        ...(options.search ? { search: options.search } : {}),
      })
      show(context, command, list, (rows) =>
        output.table(
          ['service_id', 'name', 'price', 'pricing', 'agent_id'],
          rows.map((service) => [
            service.service_id,
            service.name,
            service.price_amount ?? '-',
            service.pricing_model,
            service.agent_id,
          ]),
        ),
      )
    })
  services
    .command('create')
    .description('offer a service')
    .requiredOption('--name <name>')
    .requiredOption('--category <category>')
    .option('--price <amount>', 'per call')
    .option('--endpoint <url>', 'where the proxy calls it (https)')
    .option('--description <text>')
    .action(
      async (
        options: { name: string; category: string; price?: string; endpoint?: string; description?: string },
        command: Command,
      ) => {
        const service = await (
          await context.client(command)
        ).services.create({
          name: options.name,
          category: options.category,
          pricing_model: 'per_call',
          ...(options.price ? { price_amount: options.price } : {}),
          ...(options.endpoint ? { endpoint_url: options.endpoint } : {}),
          ...(options.description ? { description: options.description } : {}),
        })
        show(context, command, service, (created) =>
          output.record({ service_id: created.service_id, name: created.name, price: created.price_amount }),
        )
      },
    )
  services
    .command('call <service_id>')
    .description('call a service: paid on your channel to it, or as a micro-job through escrow')
    .option('--input <json>', 'the input (JSON, or a plain string)')
    .action(async (serviceId: string, options: { input?: string }, command: Command) => {
      const answer = await (
        await context.client(command)
      ).services.invoke(serviceId, { input: parseInput(options.input) })
      show(context, command, answer, (result) =>
        output.record({
          output: result.output,
          cost: result.cost,
          channel_id: result.channel_id,
          job_id: result.job_id,
        }),
      )
    })
  program
    .command('hire <agent>')
    .description('hire an agent for one task through its service (paid as a micro-job, within --budget)')
    .requiredOption('--task <text>', 'what to do (sent as the service’s input)')
    .requiredOption('--budget <amount>', 'the most you pay')
    .option('--service <service_id>', 'which of its services (its only one by default)')
    .option(
      '--session',
      'open a multi-turn session instead: --budget goes into escrow, and the answer carries session_id (seed 000)',
    )
    .action(
      async (
        agent: string,
        options: { task: string; budget: string; service?: string; session?: boolean },
        command: Command,
      ) => {
        const client = await context.client(command)
        const profile = await client.agents.get(agent)
        if (options.session) {
          // Seed 000's JSON as it is: { status: 'session_created', session_id, message }.
          const turn = await client.sessions.create({
            agent_id: profile.agent_id,
            ...(options.service ? { service_id: options.service } : {}),
            message: options.task,
            budget: options.budget,
          })
          return output.json({ status: turn.status, session_id: turn.session_id, message: turn.message })
        }
        const offered = (await client.agents.services(profile.agent_id)).filter(
          (service) => service.endpoint_url !== null,
        )
        const service = options.service
          ? offered.find((candidate) => candidate.service_id === options.service)
          : offered.length === 1
            ? offered[0]
            : undefined
        if (!service) {
          return output.fail(
            offered.length === 0
              ? `${profile.handle} offers no callable service`
              : `${profile.handle} offers ${offered.length} services: name one with --service (${offered.map((s) => s.service_id).join(', ')})`,
          )
        }
        if (service.price_amount !== null && Number(service.price_amount) > Number(options.budget)) {
          return output.fail(
            `${service.name} costs ${service.price_amount} a call, over your budget of ${options.budget}`,
          )
        }
        const answer = await client.services.invoke(service.service_id, { input: options.task })
        show(
          context,
          command,
          { agent_id: profile.agent_id, service_id: service.service_id, ...answer },
          (result) =>
            output.record({
              agent: profile.handle,
              output: result.output,
              cost: result.cost,
              job_id: result.job_id,
            }),
        )
      },
    )
}

/** Seed 000's `session continue` and `session settle`, printing the seed's JSON. */
export function registerSessionCommands(program: Command, context: CommandContext): void {
  const { output } = context
  const session = program.command('session').description('multi-turn sessions opened with `hire --session`')
  session
    .command('continue <session_id>')
    .description("send the next message; prints the agent's reply (status awaiting_reply while it has none)")
    .requiredOption('-m, --message <text>', 'the follow-up message')
    .action(async (sessionId: string, options: { message: string }, command: Command) => {
      const client = await context.client(command)
      output.json(await client.sessions.continue(sessionId, options.message))
    })
  session
    .command('settle <session_id>')
    .description(
      'pay the agent (final): --amount of the budget, the whole budget by default; the rest comes back',
    )
    .option('--amount <amount>', 'what the agent is paid, at most the budget')
    .action(async (sessionId: string, options: { amount?: string }, command: Command) => {
      const client = await context.client(command)
      output.json(await client.sessions.settle(sessionId, options.amount ? { amount: options.amount } : {}))
    })
  session
    .command('show <session_id>')
    .description('the conversation, the budget and the escrow')
    .action(async (sessionId: string, _options: unknown, command: Command) => {
      const client = await context.client(command)
      output.json(await client.sessions.get(sessionId))
    })
}

export function registerChannelCommands(program: Command, context: CommandContext): void {
  const { output } = context
  const channel = program.command('channel').description('per-call payment channels')
  const showChannel = (value: Awaited<ReturnType<ClearhouseClient['channels']['get']>>) =>
    output.record({
      channel_id: value.channel_id,
      status: value.status,
      deposit: value.deposit_amount,
      available: value.available_balance,
      unsettled: value.unsettled_amount,
      calls: value.total_call_count,
    })
  channel
    .command('open <service_id>')
    .description('open a channel to a service, funded from your balance')
    .requiredOption('--deposit <amount>', 'what the channel holds')
    .action(async (serviceId: string, options: { deposit: string }, command: Command) => {
      const client = await context.client(command)
      const caller = await ChannelCaller.open(client, {
        service_id: serviceId,
        deposit_amount: options.deposit,
      })
      const opened = await client.channels.get(caller.id)
      show(context, command, opened, showChannel)
    })
  channel
    .command('call <channel_id>')
    .description('one paid call on the channel')
    .option('--input <json>', 'the input (JSON, or a plain string)')
    .action(async (channelId: string, options: { input?: string }, command: Command) => {
      const caller = await ChannelCaller.attach(await context.client(command), channelId)
      const answer = await caller.call(parseInput(options.input))
      show(context, command, answer, (result) =>
        output.record({ output: result.output, cost: result.cost, sequence: result.call?.sequence_number }),
      )
    })
  channel
    .command('show <channel_id>')
    .action(async (channelId: string, _options: unknown, command: Command) => {
      show(context, command, await (await context.client(command)).channels.get(channelId), showChannel)
    })
  channel
    .command('settle <channel_id>')
    .description('settle the unsettled calls on the vault')
    .option('--wait', 'wait until the settlement lands on-chain')
    .action(async (channelId: string, options: { wait?: boolean }, command: Command) => {
      const client = await context.client(command)
      const settled = await client.channels.settle(channelId)
      const settlement =
        options.wait && settled.settlement
          ? await waitFor(output, 'the settlement to land on-chain', async () => {
              const [latest] = await client.channels.settlements(channelId, { limit: 1 })
              return {
                isDone: latest?.status === 'settled' || latest?.status === 'failed',
                value: latest ?? null,
              }
            })
          : settled.settlement
      const result = { settlement, message: settled.message }
      show(context, command, result, (value) =>
        value.settlement
          ? output.record({
              settlement_id: value.settlement.settlement_id,
              calls: value.settlement.call_count,
              total: value.settlement.total_amount,
              to_provider: value.settlement.worker_amount,
              status: value.settlement.status,
              tx_hash: value.settlement.tx_hash,
            })
          : output.line(value.message),
      )
    })
  channel
    .command('close <channel_id>')
    .description('close the channel: unsettled calls are settled, the rest returns to the caller')
    .action(async (channelId: string, _options: unknown, command: Command) => {
      show(context, command, await (await context.client(command)).channels.close(channelId), showChannel)
    })
}

export function registerWalletCommands(program: Command, context: CommandContext): void {
  const { output } = context
  const wallet = program.command('wallet').description('balances, deposits and withdrawals')
  wallet.command('balance').action(async (_options: unknown, command: Command) => {
    const balance = await (await context.client(command)).wallet.balance()
    show(context, command, balance, (value) =>
      output.table(
        ['token', 'available', 'escrowed', 'unsettled', 'pending', 'withdrawing', 'on_chain'],
        value.balances.map((token) => [
          token.token,
          token.available,
          token.escrowed,
          token.unsettled,
          token.pending,
          token.withdrawing,
          token.on_chain ?? '-',
        ]),
      ),
    )
  })
  wallet
    .command('deposit')
    .description('how to deposit into the vault for your wallet (or --faucet on the dev chain)')
    .option('--faucet <amount>', 'credit test tokens on `npm start`’s chain')
    .action(async (options: { faucet?: string }, command: Command) => {
      const client = await context.client(command)
      if (options.faucet) {
        const credited = await client.wallet.faucet({ amount: options.faucet })
        show(context, command, credited, (value) =>
          output.record(value as unknown as Record<string, unknown>),
        )
        return
      }
      const address = await client.wallet.depositAddress()
      show(context, command, address, (value) =>
        output.record({
          vault: value.vault_address,
          account: value.account,
          chain_id: value.chain_id,
          tokens: value.tokens.map((token) => `${token.symbol} ${token.address}`).join(', '),
          how: value.methods.map((method) => method.method).join(', '),
        }),
      )
    })
  wallet
    .command('withdraw')
    .description('a fast withdrawal from your vault balance to an address')
    .requiredOption('--amount <amount>')
    .requiredOption('--to <address>')
    .option('--token <symbol>')
    .option('--wait', 'wait until it is confirmed on-chain')
    .action(
      async (options: { amount: string; to: string; token?: string; wait?: boolean }, command: Command) => {
        const client = await context.client(command)
        let withdrawal = await client.wallet.withdraw({
          amount: options.amount,
          to: options.to,
          ...(options.token ? { token: options.token } : {}),
        })
        if (options.wait) {
          withdrawal = await waitFor(output, 'the withdrawal to land on-chain', async () => {
            const latest = await client.wallet.withdrawal(withdrawal.withdrawal_id)
            return { isDone: latest.status === 'success' || latest.status === 'failed', value: latest }
          })
          if (withdrawal.status === 'failed') output.fail(`withdrawal ${withdrawal.withdrawal_id} failed`)
        }
        show(context, command, withdrawal, (value) =>
          output.record({
            withdrawal_id: value.withdrawal_id,
            amount: value.amount,
            to: value.to,
            status: value.status,
            tx_hash: value.tx_hash,
          }),
        )
      },
    )
  wallet.command('deposits').action(async (_options: unknown, command: Command) => {
    const page = await (await context.client(command)).wallet.deposits()
    show(context, command, page, (value) =>
      output.table(
        ['deposit_id', 'amount', 'token', 'status', 'tx_hash'],
        value.data.map((entry) => [entry.deposit_id, entry.amount, entry.token, entry.status, entry.tx_hash]),
      ),
    )
  })
  wallet.command('withdrawals').action(async (_options: unknown, command: Command) => {
    const page = await (await context.client(command)).wallet.withdrawals()
    show(context, command, page, (value) =>
      output.table(
        ['withdrawal_id', 'amount', 'token', 'status', 'tx_hash'],
        value.data.map((entry) => [
          entry.withdrawal_id,
          entry.amount,
          entry.token,
          entry.status,
          entry.tx_hash ?? '-',
        ]),
      ),
    )
  })
}
