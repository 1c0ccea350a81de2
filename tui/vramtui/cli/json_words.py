"""The JSON of plan, recommend, quants and cluster with the words people read in it: the core's
figures (`to_json`) plus the sentences `vramtui.present` writes, where the output has always
carried them."""

from __future__ import annotations

from typing import Any

from vramtui.core.advice.plan import Plan
from vramtui.core.advice.quants import QuantLadder
from vramtui.core.advice.recommend import Recommendation
from vramtui.core.cluster.build import ClusterResult
from vramtui.core.cluster.plan import ClusterRecommendation
from vramtui.present.advice_words import expert_offload_sentence, quant_messages
from vramtui.present.cluster_words import cluster_notes, cluster_recommendation_sentence
from vramtui.present.plan_words import gtt_route_sentence, plan_sentence, platform_step_sentence


def insert_after(data: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """`data` with `key` placed right after `after` (where the output has always had it)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        out[k] = v
        if k == after:
            out[key] = value
    if key not in out:
        out[key] = value
    return out


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    data = rec.to_json()
    if rec.expert_offload is not None:
        data["expert_offload"]["sentence"] = expert_offload_sentence(rec.expert_offload)
    return data


def plan_json(plan: Plan) -> dict[str, Any]:
    data = insert_after(plan.to_json(), "os", "sentence", plan_sentence(plan))
    if plan.gtt_route is not None:
        data["linux_gtt_route"]["sentence"] = gtt_route_sentence(plan.gtt_route)
    data["recommendation"] = recommendation_json(plan.recommendation)
    for row, step in zip(data["platform_steps"], plan.platform, strict=True):
        row["sentence"] = platform_step_sentence(step)
    return data


def quants_json(ladder: QuantLadder) -> dict[str, Any]:
    data = ladder.to_json()
    data["quants"] = [
        insert_after(row_json, "reasons", "messages", quant_messages(row))
        for row_json, row in zip(data["quants"], ladder.rows, strict=True)
    ]
    return data


def cluster_json(result: ClusterResult) -> dict[str, Any]:
    data = result.to_json()
    data["notes"] = cluster_notes(result)
    return data


def cluster_recommendation_json(rec: ClusterRecommendation) -> dict[str, Any]:
    return {**rec.to_json(), "sentence": cluster_recommendation_sentence(rec)}
