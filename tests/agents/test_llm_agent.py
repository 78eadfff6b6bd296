"""The LLM agent against a local HTTP server on 127.0.0.1 that speaks the chat-completions wire
format (good, fenced, malformed, refusing, slow and failing answers), and against a tiny randomly
initialised local transformers model. No network beyond 127.0.0.1 is used."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from amala.agents.llm_agent import LLMAgent, parse_answer
from amala.agents.llm_backends import ChatCompletions, LocalCausalLM
from amala.agents.registry import ProposalContext
from amala.core.candidate import Candidate
from amala.core.polymer import canonical_smiles

KEY = "sk-test-not-a-real-key-123"
GOOD = {"candidates": ["[Cu]CCOCCO[Au]", "[Cu]CCO[Au]", "not a smiles", "[Cu]CC(C#N)[Au]", "[Cu]OCCOCC[Au]",
                      "[Cu]" + "C" * 400 + "[Au]"]}
ANSWERS = {
    "good": "```json\n" + json.dumps(GOOD) + "\n```",
    "garbage": "Sure! Here are some polymers: PEO, PAN and {\"candidates\": [",
    "refusal": "I'm sorry, but I can't help with that.",
    "wrong-shape": json.dumps({"candidates": [{"smiles": "[Cu]CCO[Au]"}]}),
}


class ChatServer(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        mode = self.path.strip("/").split("/")[0]
        if mode == "slow":
            time.sleep(2)
        if mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        content = ANSWERS.get(mode, ANSWERS["good"])
        auth = self.headers.get("Authorization") or ""
        if mode == "echo":  # a proxy that refuses and quotes the request back, headers and all
            content = f"Refused. Request headers: Authorization: {auth}; raw key {auth.removeprefix('Bearer ')}"
        if mode == "echo-json":  # the key inside the candidates and in prose around them
            content = json.dumps({"candidates": [f"[Cu]C{auth}[Au]", auth.removeprefix("Bearer ")]})
        reply = {"choices": [{"message": {"role": "assistant", "content": content}}]}
        if mode == "envelope":
            reply = {"result": "ok"}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _context():
    evaluated = [(Candidate(canonical_smiles("[Cu]CCO[Au]"), agent="pool"), -3.2),
                 (Candidate(canonical_smiles("[Cu]CC(C)O[Au]"), agent="pool"), -4.1)]
    return ProposalContext(iteration=2, seed=0, known_keys={c.key for c, _ in evaluated}, evaluated=evaluated,
                           objective="maximize log10 conductivity [log10(S/cm)]")


def test_good_answer_is_validated_deduplicated_and_traceable(server, monkeypatch):
    monkeypatch.setenv("AMALA_TEST_KEY", KEY)
    agent = LLMAgent(ChatCompletions(f"{server}/good/v1", "test-model", "AMALA_TEST_KEY", timeout_seconds=5), n=5)
    proposal = agent.propose(_context())
    found = proposal.candidates
    # "not a smiles", the already evaluated [Cu]CCO[Au] and a 408-character chain are refused; the
    # reversed unit is a new one
    assert [c.representation for c in found] == [canonical_smiles(s) for s in
                                                 ("[Cu]CCOCCO[Au]", "[Cu]CC(C#N)[Au]", "[Cu]OCCOCC[Au]")]
    request = ChatServer.seen[-1]
    assert request["auth"] == f"Bearer {KEY}" and request["body"]["model"] == "test-model"
    prompt = request["body"]["messages"][-1]["content"]
    assert "log10 conductivity [log10(S/cm)]" in prompt and "[Au]" in prompt
    assert f"{canonical_smiles('[Cu]CCO[Au]')}: -3.2" in prompt
    meta = found[0].metadata
    assert meta["backend"] == "openai" and meta["model"] == "test-model" and found[0].agent == "llm"
    assert len(meta["prompt_sha256"]) == len(meta["response_sha256"]) == 64
    [(level, message)] = proposal.events  # one summary event per proposal
    assert level == "info" and "3 accepted, 3 refused" in message and proposal.model_version is None
    assert KEY not in json.dumps(meta) and KEY not in message


@pytest.mark.parametrize("mode, why", [("garbage", "not JSON"), ("refusal", "not JSON"),
                                       ("wrong-shape", "must be a string"), ("slow", "within 0.5 s"),
                                       ("error", "HTTP 500"), ("envelope", "chat-completions format")])
def test_bad_answers_give_zero_candidates_and_an_event(server, mode, why):
    agent = LLMAgent(ChatCompletions(f"{server}/{mode}/v1", "m", timeout_seconds=0.5), n=5)
    proposal = agent.propose(_context())
    [(level, message)] = proposal.events
    assert proposal.candidates == [] and level == "warning" and why in message and "no candidates" in message


def test_unreachable_endpoint_and_strict_parser():
    agent = LLMAgent(ChatCompletions("http://127.0.0.1:9/v1", "m", timeout_seconds=1), n=3)
    proposal = agent.propose(_context())
    assert proposal.candidates == [] and "cannot reach" in proposal.events[-1][1]
    assert parse_answer('{"candidates": ["a", " b "]}') == ["a", "b"]
    for bad in ['{"candidates": "a"}', '{"candidates": [], "note": 1}', "[]", "", " " * 100_001]:
        with pytest.raises(ValueError):
            parse_answer(bad)


def test_composition_candidates_respect_the_bounds(server, monkeypatch):
    ANSWERS["glass"] = json.dumps({"candidates": ["Li2O:1;SiO2:2", "Li2O:0.9;SiO2:0.1", "Na2O:0.3;SiO2:0.7"]})
    agent = LLMAgent(ChatCompletions(f"{server}/glass/v1", "m", timeout_seconds=5), kind="composition", n=5,
                     bounds={"Li2O": (0.1, 0.5), "SiO2": (0.5, 0.9)})
    found = agent.propose(ProposalContext(iteration=0, seed=0)).candidates
    assert [c.representation for c in found] == ["Li2O:0.333333;SiO2:0.666667"]
    assert "Li2O 0.1-0.5" in ChatServer.seen[-1]["body"]["messages"][-1]["content"]


def test_tiny_random_local_model_runs_and_its_garbage_is_refused(tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer, raw.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    raw.train_from_iterator(['{"candidates": ["[Cu]CCO[Au]"]}'], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>")
    tokenizer.save_pretrained(tmp_path)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=32, n_layer=1, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)

    agent = LLMAgent(LocalCausalLM(tmp_path, max_new_tokens=24), n=3)
    proposal = agent.propose(_context())
    assert proposal.candidates == [] and "answer rejected" in proposal.events[-1][1]  # random weights: not JSON
    proposal = LLMAgent(LocalCausalLM(tmp_path / "nowhere"), n=3).propose(_context())
    assert proposal.candidates == [] and "no model folder" in proposal.events[-1][1]


def test_llm_agent_in_a_campaign_logs_its_events(server, data_env):
    from amala.loop.campaign import Campaign
    from amala.loop.config import parse_config

    cfg = parse_config({"name": "llm", "data": {"dataset": "htpmd", "subset": 50},
                        "agents": [{"kind": "pool"}, {"kind": "llm", "url": f"{server}/good/v1", "model": "m", "n": 4},
                                   {"kind": "llm", "name": "llm-broken", "url": f"{server}/garbage/v1", "model": "m"}]})
    campaign = Campaign(cfg)
    proposals = campaign.propose()
    llm = [c for c in proposals if c.agent == "llm"]
    assert len(llm) >= 2 and len(proposals) == 50 + len(llm)
    events = [(e.level, e.message) for e in campaign.store.events(campaign.id) if e.kind == "agent"]
    assert any("llm-broken" in m and "answer rejected" in m for _, m in events)


@pytest.mark.parametrize("mode", ["echo", "echo-json"])
@pytest.mark.parametrize("key", [KEY, "zq8Xv0T4pLmN2bRkW7"])  # an sk- key, and one only the env var knows
def test_an_echoing_endpoint_never_gets_the_key_into_events_or_provenance(server, monkeypatch, mode, key):
    from amala.core.redaction import redact, redact_data

    monkeypatch.setenv("LLM_CREDENTIAL_FOR_TEST", key)  # a name the redactor cannot guess
    backend = ChatCompletions(f"{server}/{mode}/v1?api_key={key}", "m", "LLM_CREDENTIAL_FOR_TEST", timeout_seconds=5)
    agent = LLMAgent(backend, n=3)
    proposal = agent.propose(_context())
    assert ChatServer.seen[-1]["auth"] == f"Bearer {key}"  # it was sent...
    stored = json.dumps([proposal.events, [c.metadata for c in proposal.candidates], backend.describe()])
    assert key not in stored and key[:12] not in stored  # ...and is nowhere in what would be stored
    assert "[REDACTED]" in stored and all("\n" not in m for _, m in proposal.events)
    assert redact(f"echo {key}") == "echo [REDACTED]"  # the store and report can redact with no arguments
    assert redact_data({"a": [f"Bearer {key}"]}) == {"a": ["Bearer [REDACTED]"]}


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Bearer abc.def-123", "Authorization: Bearer [REDACTED]"),
    ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "Basic [REDACTED]"}'),
    ("key sk-proj-AbCdEf0123456789 leaked", "key [REDACTED] leaked"),
    ("https://user:hunter2@db.example/x", "https://[REDACTED]@db.example/x"),
    ("https://host/v1?api_key=abcd1234&x=1", "https://host/v1?api_key=[REDACTED]&x=1"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "token [REDACTED]"),
    ("nothing secret in [Cu]CCO[Au], max_tokens=512", "nothing secret in [Cu]CCO[Au], max_tokens=512"),
])
def test_redaction_patterns(text, expected):
    from amala.core.redaction import redact

    assert redact(text) == expected


def test_redaction_of_registered_and_environment_secrets(monkeypatch):
    from amala.core.redaction import redact, redact_data, register_secret

    monkeypatch.setenv("SOME_SERVICE_TOKEN", "plainvalue-77")
    register_secret("registered-secret-value")
    assert redact("a plainvalue-77 b registered-secret-value c") == "a [REDACTED] b [REDACTED] c"
    assert redact("x", ["x"]) == "x"  # too short to be a key: never mangle messages
    assert redact_data({"api_key": "whatever", "n": 3, "note": ("Bearer abcdef",)}) == \
        {"api_key": "[REDACTED]", "n": 3, "note": ("Bearer [REDACTED]",)}
