"""nearmatch search: retrieve candidates, align them in time, report match envelopes."""
