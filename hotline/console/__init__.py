"""The agents' and supervisors' console: pages served by `hotline serve` under /console/."""
