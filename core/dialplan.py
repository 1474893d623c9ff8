"""The dialplan contract: every name hotline and the shipped Asterisk configuration share.

It mirrors `asterisk-conf/extensions.conf` (contexts, channel variables, globals) and
`asterisk-conf/queues.conf` (queue names); tests/test_asterisk_conf.py checks that each name here
is in the shipped files and that each variable the dialplan reads is here. The flows, the
dialer, the simulators (`hotline.pbxsim` may import this module and no other of core) and the
tests take the names from here, so a rename is one edit and one failing test. Pure constants:
no imports, so any layer may use it.
"""

# ---------------------------------------------------------------- contexts (extensions.conf)
INBOUND_CONTEXT = "hotline"  # the trunk's calls (pjsip.conf: endpoint trunk)
AGENT_HANDOFF_CONTEXT = "hotline-agent"  # Gosub before Queue(): caller name, recording
FLOW_CONTEXT = "dialer-landing"  # answered voice-campaign calls run their outbound flow
AGENT_CONTEXT = "dialer-agent"  # answered predictive / progressive calls wait for an agent
PREVIEW_CONTEXT = "dialer-preview"  # preview calls: the agent's phone, then Dial(HOTLINE_DIAL)
AGENT_PHONES_CONTEXT = "agents"  # pjsip.conf: where an agent's softphone's calls start
SUPERVISE_CONTEXT = "hotline-supervise"  # a supervisor's phone: ChanSpy, exten = the mode
ENTRY_EXTEN = "s"  # the extension every Originate and Gosub enters (priority 1)
CONTEXTS = (
    INBOUND_CONTEXT,
    AGENT_HANDOFF_CONTEXT,
    FLOW_CONTEXT,
    AGENT_CONTEXT,
    PREVIEW_CONTEXT,
    AGENT_PHONES_CONTEXT,
    SUPERVISE_CONTEXT,
)

# ---------------------------------------------------------------- queues (queues.conf)
QUEUE_REPAIRS, QUEUE_COMPLAINTS, QUEUE_ENQUIRIES = "repairs", "complaints", "enquiries"
QUEUE_CASHIER = "cashier"
QUEUE_DUTY = "duty"  # a person answers whatever went wrong (ringall, joinempty)
QUEUE_OUTBOUND = "outbound"  # the predictive dialer's agents ([dialer-agent])
QUEUES = (
    QUEUE_REPAIRS,
    QUEUE_COMPLAINTS,
    QUEUE_ENQUIRIES,
    QUEUE_CASHIER,
    QUEUE_DUTY,
    QUEUE_OUTBOUND,
)
# Each queue's `wrapuptime`: after a call app_queue offers the member nothing for this long. AMI
# never says it (a member's `Wrapuptime` field is the member's own setting, 0 unless its
# `member =>` line sets one, which then wins), so the dialer and the live state take it from here.
WRAPUP_SECONDS = {
    QUEUE_REPAIRS: 10,
    QUEUE_COMPLAINTS: 10,
    QUEUE_ENQUIRIES: 10,
    QUEUE_CASHIER: 10,
    QUEUE_DUTY: 10,
    QUEUE_OUTBOUND: 15,
}

# ---------------------------------------------------------------- what a call flow sets (FastAGI)
STATUS = "HOTLINE_STATUS"  # the flow's word to the dialplan, which trusts only STATUS_DONE
STATUS_DONE, STATUS_FAILED = "DONE", "FAILED"
QUEUE = "HOTLINE_QUEUE"  # the queue to hand the caller to after the flow (empty: hang up)
CALLERNAME = "HOTLINE_CALLERNAME"  # unit and resident, shown on the agent's phone
RECORDING = "HOTLINE_RECORDING"  # MixMonitor's file (the dialer sets it on Originate too)
TICKET = "HOTLINE_TICKET"  # for the agent's side (AMI); the shipped dialplan does not read it
UNIT = "HOTLINE_UNIT"  # likewise
FLOW_VARIABLES = (STATUS, QUEUE, CALLERNAME, RECORDING, TICKET, UNIT)

# ---------------------------------------------------------------- what the dialer's Originate sets
CALL_ID = "CALL_ID"  # lead-<lead>-<attempt>: names the attempt in AMI events
LEAD_ID = "LEAD_ID"  # the outbound flow's lead
CAMPAIGN_ID = "CAMPAIGN_ID"
CAMPAIGN_KIND = "CAMPAIGN_KIND"  # the outbound flow's route: outbound/<kind>
DIAL = "HOTLINE_DIAL"  # a preview call's resident, rung once the agent answers
SPY = "HOTLINE_SPY"  # [hotline-supervise]: the spied agent's channel prefix, read by ChanSpy
PREVIEW_DIAL_TIMEOUT_S = 25  # Dial(${HOTLINE_DIAL},25)
ORIGINATE_VARIABLES = (CALL_ID, LEAD_ID, CAMPAIGN_ID, CAMPAIGN_KIND, RECORDING, DIAL, SPY)

# ---------------------------------------------------------------- what the dialplan sets itself
ABANDONED = "HOTLINE_ABANDONED"  # 1: no agent took an answered predictive call in time
DIALLED = "HOTLINE_DIALLED"  # [hotline]: the dialled number, the inbound flow's argument
RECORDING_ON = "HOTLINE_RECORDING_ON"  # [dialer-landing] records whole: no second MixMonitor
DIALPLAN_VARIABLES = (ABANDONED, DIALLED, RECORDING_ON)

# ---------------------------------------------------------------- [globals], the site's knobs
GLOBAL_FASTAGI = "HOTLINE_FASTAGI"  # host:port of our FastAGI server (fastagi.listen)
GLOBAL_LANGUAGE = "HOTLINE_LANGUAGE"
GLOBAL_RING_AGENTS_FIRST = "HOTLINE_RING_AGENTS_FIRST"  # inbound.ring_agents_first
GLOBAL_QUEUE_MAXWAIT = "HOTLINE_QUEUE_MAXWAIT"
GLOBAL_AMD = "HOTLINE_AMD"
GLOBAL_CONNECT_LIMIT = "HOTLINE_CONNECT_LIMIT"  # dialer.connect_limit_seconds
GLOBALS = (
    GLOBAL_FASTAGI,
    GLOBAL_LANGUAGE,
    GLOBAL_RING_AGENTS_FIRST,
    GLOBAL_QUEUE_MAXWAIT,
    GLOBAL_AMD,
    GLOBAL_CONNECT_LIMIT,
)
