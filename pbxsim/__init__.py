"""The PBX simulator: Asterisk 22's side of FastAGI and AMI, byte for byte as the golden
transcripts show it, for the demo, the tests and the benchmarks. It shares the protocol modules
with the product (`hotline.agi.protocol`, `hotline.dialer.ami_protocol`) but is no part of it."""
