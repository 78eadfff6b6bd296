"""Agents propose candidates. They never evaluate and never write to the store."""

from amala.agents.candidate import Candidate
from amala.agents.interface import Agent, Proposal, ProposalContext
from amala.agents.registry import build_agent

__all__ = ["Agent", "Candidate", "Proposal", "ProposalContext", "build_agent"]
