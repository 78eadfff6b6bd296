"""Agents propose candidates. They never evaluate and never write to the store."""

from amala.agents.candidate import Candidate
from amala.agents.registry import Agent, ProposalContext, build_agent

__all__ = ["Agent", "Candidate", "ProposalContext", "build_agent"]
