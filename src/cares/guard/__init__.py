"""The CARES-18K mitigation as a deployable guard: a jailbreak-style detector, reminder
conditioning, the `guard/<model>` wrapper and an OpenAI-compatible proxy. Our design, built to
the paper's description."""
