"""Test doubles that are real parts: a loopback OpenAI-compatible server with latency and faults."""
