"""vLLM engine metric families (vLLM 0.33 names, with the legacy and `vllm_` spellings as aliases).

Facts: counters are exposed with `_total`; `engine` is absent on V0 engines, so nothing here relies
on it; `vllm:kv_cache_usage_perc` is a 0-1 ratio and replaced `vllm:gpu_cache_usage_perc`;
`vllm:inter_token_latency_seconds` replaced `vllm:time_per_output_token_seconds`.
"""

from __future__ import annotations

from metrics.catalog.families import MetricFamily, MetricType, Source, vllm_family

G, C, H = MetricType.GAUGE, MetricType.COUNTER, MetricType.HISTOGRAM

# Default bucket boundaries of vLLM 0.10.2-0.33.0 (`vllm/v1/metrics/buckets.py`). A deployment can
# replace them with `--custom-histogram-buckets`, so queries never rely on them; they are here to
# check that an SLO threshold is a boundary (a `le` series exists for it) and for test fixtures.
TIME_TO_FIRST_TOKEN_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
    160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
REQUEST_LATENCY_BUCKETS: tuple[float, ...] = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
    1920.0, 7680.0,
)  # fmt: skip

REQUESTS_RUNNING = vllm_family("num_requests_running", G, "requests", "Requests in the engine's running batch.")
REQUESTS_WAITING = vllm_family(
    "num_requests_waiting", G, "requests", "Requests queued in the engine, not yet scheduled."
)
REQUESTS_WAITING_BY_REASON = vllm_family(
    "num_requests_waiting_by_reason",
    G,
    "requests",
    "Waiting requests split by reason (capacity or deferred).",
    labels=("model_name", "engine", "reason"),
    since="0.15",
)
KV_CACHE_USAGE = vllm_family(
    "kv_cache_usage_perc",
    G,
    "ratio",
    "Share of the KV cache in use, 0 to 1.",
    legacy=("gpu_cache_usage_perc",),
)
CACHE_CONFIG_INFO = vllm_family(
    "cache_config_info",
    MetricType.INFO,
    "",
    "Constant 1 carrying the engine's cache configuration as labels (num_gpu_blocks, block_size, ...).",
    labels=("engine", "block_size", "num_gpu_blocks", "gpu_memory_utilization", "enable_prefix_caching"),
)
PROMPT_TOKENS = vllm_family("prompt_tokens_total", C, "tokens", "Prompt tokens processed, prefix-cache hits included.")
GENERATION_TOKENS = vllm_family("generation_tokens_total", C, "tokens", "Output tokens generated.")
REQUEST_SUCCESS = vllm_family(
    "request_success_total",
    C,
    "requests",
    "Finished requests by finish reason (stop, length, abort, error, repetition); aborts and errors included.",
    labels=("model_name", "engine", "finished_reason"),
)
PREEMPTIONS = vllm_family("num_preemptions_total", C, "preemptions", "Requests preempted because the KV cache ran out.")
PREFIX_CACHE_QUERIES = vllm_family(
    "prefix_cache_queries_total",
    C,
    "tokens",
    "Prompt tokens looked up in the prefix cache.",
    legacy=("gpu_prefix_cache_queries_total",),
)
PREFIX_CACHE_HITS = vllm_family(
    "prefix_cache_hits_total",
    C,
    "tokens",
    "Prompt tokens found in the prefix cache.",
    legacy=("gpu_prefix_cache_hits_total",),
)
ADMISSION_REJECTIONS = vllm_family(
    "admission_rejections_total",
    C,
    "requests",
    "Requests refused by the front end's queue limits.",
    labels=("model_name", "reason"),
    since="0.15",
)
TIME_TO_FIRST_TOKEN = vllm_family(
    "time_to_first_token_seconds",
    H,
    "seconds",
    "Time from arrival to the first output token (queueing and prefill included).",
)
INTER_TOKEN_LATENCY = vllm_family(
    "inter_token_latency_seconds",
    H,
    "seconds",
    "Gap between successive output tokens of a request.",
    legacy=("time_per_output_token_seconds",),
)
E2E_LATENCY = vllm_family("e2e_request_latency_seconds", H, "seconds", "Time from arrival to the last output token.")
QUEUE_TIME = vllm_family(
    "request_queue_time_seconds", H, "seconds", "Time a request waited before it was first scheduled."
)
PREFILL_TIME = vllm_family("request_prefill_time_seconds", H, "seconds", "Time a request spent in prefill.")
DECODE_TIME = vllm_family("request_decode_time_seconds", H, "seconds", "Time a request spent decoding.")
PROMPT_LENGTH = vllm_family("request_prompt_tokens", H, "tokens", "Prompt length of finished requests.")
OUTPUT_LENGTH = vllm_family("request_generation_tokens", H, "tokens", "Output length of finished requests.")
ITERATION_TOKENS = vllm_family("iteration_tokens_total", H, "tokens", "Tokens processed per engine step.")
REQUEST_PREEMPTIONS = vllm_family(
    "request_num_preemptions", H, "preemptions", "Preemptions per finished request.", since="0.15"
)

HTTP_REQUESTS = MetricFamily(
    name="http_requests_total",
    type=C,
    unit="requests",
    help="HTTP requests served by the vLLM API server, by handler, method and status class.",
    source=Source.VLLM,
    labels=("handler", "method", "status"),
)
PROCESS_START_TIME = MetricFamily(
    name="process_start_time_seconds",
    type=G,
    unit="seconds",
    help="Unix time the vLLM API server process started.",
    source=Source.VLLM,
)

ALL: tuple[MetricFamily, ...] = (
    REQUESTS_RUNNING,
    REQUESTS_WAITING,
    REQUESTS_WAITING_BY_REASON,
    KV_CACHE_USAGE,
    CACHE_CONFIG_INFO,
    PROMPT_TOKENS,
    GENERATION_TOKENS,
    REQUEST_SUCCESS,
    PREEMPTIONS,
    PREFIX_CACHE_QUERIES,
    PREFIX_CACHE_HITS,
    ADMISSION_REJECTIONS,
    TIME_TO_FIRST_TOKEN,
    INTER_TOKEN_LATENCY,
    E2E_LATENCY,
    QUEUE_TIME,
    PREFILL_TIME,
    DECODE_TIME,
    PROMPT_LENGTH,
    OUTPUT_LENGTH,
    ITERATION_TOKENS,
    REQUEST_PREEMPTIONS,
    HTTP_REQUESTS,
    PROCESS_START_TIME,
)
