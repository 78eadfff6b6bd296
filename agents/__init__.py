"""Agents propose candidates. They never evaluate and never write to the store."""

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.agents.registry import build_agent
from amala.core.candidate import Candidate

__all__ = ["Agent", "Candidate", "Proposal", "ProposalContext", "build_agent"]
