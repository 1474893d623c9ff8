"""hotline.net: what the Twisted protocol packages (agi, dialer) and the service share of the
network, below both: the connected transport, a listener's port."""
