"""AI assist: a case summary and a suggested next action. The AI never decides.

A suggestion is advice shown next to the decision form; only a person, through `services.decide`, changes a
case. Nothing here can change a case's state, bucket or priority.

    config    where the model lives and what may be sent (built once, passed along)
    privacy   plain text, and personal data masked before anything leaves
    facts     what an assistant works from; the key a suggestion is stored under
    offline   the deterministic assistant (no key, or the model failed)
    model     the prompt, the structured answer, one time budget, why an answer was not used
    storage   stored suggestions, the Review page's background request, precompute for `suggest`
"""
from .config import FALLBACK_SOURCE, OFFLINE_MODEL, OFFLINE_SOURCE, PROMPT_VERSION, AIConfig
from .facts import Advice, catalog, facts_key
from .model import AssistFailure, Made, advise, answer_model_for, ask_model, build_messages, describe, prompt_facts
from .offline import offline_advice
from .privacy import customer_text, mask_text, plain_text
from .storage import (Pending, PrecomputeReport, Suggestion, get, lookup, precompute, request, save, settle,
                      suggestion_for)

__all__ = ["FALLBACK_SOURCE", "OFFLINE_MODEL", "OFFLINE_SOURCE", "PROMPT_VERSION", "AIConfig", "Advice",
           "AssistFailure", "Made", "Pending", "PrecomputeReport", "Suggestion", "advise", "answer_model_for",
           "ask_model", "build_messages", "catalog", "customer_text", "describe", "facts_key", "get", "lookup",
           "mask_text", "offline_advice", "plain_text", "precompute", "prompt_facts", "request", "save", "settle",
           "suggestion_for"]
