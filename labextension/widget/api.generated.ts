// Generated from ansflow_jupyter/server/openapi.yaml by scripts/gen-api.mjs (npm run build:api):
// do not edit. The front-end tests fail when this file is older than the spec.
export interface paths {
    "/ansflow/api/pipelines": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Pipeline files found under the server's root dir
         * @description Bounded scan (depth 6, 2000 files; hidden dirs and node_modules skipped).
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Pipelines sorted by path */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["PipelineFile"][];
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/pipelines/validate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Every problem of a pipeline, without running it */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: components["requestBodies"]["Source"];
            responses: {
                /** @description Validation result */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            ok: boolean;
                            errors: components["schemas"]["Issue"][];
                        };
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Executions, newest first */
        get: {
            parameters: {
                query?: {
                    /** @description Only executions in this state (an empty value is refused) */
                    status?: components["schemas"]["ExecutionStatus"];
                    pipeline?: string;
                    limit?: number;
                    /** @description Id of the last execution of the previous page */
                    before?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description A page of executions */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Execution"][];
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        /** Start a pipeline */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        path?: components["schemas"]["PipelinePath"];
                        /** @description Pipeline YAML text (paths resolve in root) */
                        yaml?: string;
                        /** @description At most 1000 variables and 131072 bytes; names without '=' or NUL */
                        env?: {
                            [key: string]: string;
                        };
                        max_parallel?: number;
                        /** @description Bypass the step cache (true) or for these step ids */
                        force?: boolean | string[];
                        /** @description Workflow files only; run this job and the jobs it needs */
                        job?: string;
                        /** @description Workflow files only; github.event_name (default push) */
                        event?: string;
                        /** @description Workflow files only; the inputs context (dispatch/call inputs) */
                        inputs?: {
                            [key: string]: string | number | boolean;
                        };
                        /** @description Workflow files only; an unsupported action is an error */
                        strict?: boolean;
                    } & (unknown | unknown);
                };
            };
            responses: {
                /** @description The new execution */
                201: {
                    headers: {
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Execution"];
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        /** The snapshot envelope of one execution */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Snapshot */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Envelope"];
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        /** Remove a finished execution with its events and logs */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel; kills every process of every running step */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Cancellation accepted */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            execution_id?: string;
                        };
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/rerun": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run the same pipeline again */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": {
                        /** @default false */
                        failed_only?: boolean;
                        /** @description Bypass the step cache (true) or for these step ids */
                        force?: boolean | string[];
                    };
                };
            };
            responses: {
                /** @description The new execution */
                201: {
                    headers: {
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Execution"];
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        /** Stored log lines */
        get: {
            parameters: {
                query?: {
                    step?: string;
                    /** @description Line number in the step (with step) or in the merged stream */
                    offset?: number;
                    limit?: number;
                    tail?: number;
                    /** @description Substring, or /regex/ (RE2 syntax, at most 1000 characters; 400 otherwise) */
                    q?: string;
                    /** @description 1 adds `total`, the exact number of lines of the whole log (of `step`, or of every step) that match `q` (every line without `q`), whatever offset, limit and tail select; ignored with format=text */
                    count?: 0 | 1;
                    /** @description `text` streams a plain-text download in one pass: without `step` every line is prefixed by `<step id> | `; ANSI escapes are stripped unless `raw=1` */
                    format?: "json" | "text";
                    /** @description With format=text, keep ANSI escapes (1) or strip them (0, default) */
                    raw?: 0 | 1;
                };
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Lines */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            execution_id?: string;
                            next_offset?: number | null;
                            /** @description With count=1, the number of matching lines in the whole log */
                            total?: number;
                            lines?: components["schemas"]["LogLine"][];
                        };
                        "text/plain": string;
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/summary": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        /**
         * Step summaries (the Markdown steps wrote to $ANSFLOW_STEP_SUMMARY)
         * @description The latest attempt's summary of each step that wrote one, in pipeline order (step_update events carry only its size in bytes, as `summary`). Each summary is at most 1 MiB (a longer one is cut with a note). The Markdown is the step's own text: render it sanitized.
         */
        get: {
            parameters: {
                query?: {
                    /** @description Only this step (an empty list when it wrote no summary; 404 if unknown) */
                    step?: string;
                };
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Summaries */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            execution_id: string;
                            summaries: components["schemas"]["StepSummary"][];
                        };
                    };
                };
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/artifacts": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
            };
            cookie?: never;
        };
        /** Every file the steps of an execution collected (`artifacts:`) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Artifacts in step then path order */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Artifact"][];
                    };
                };
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/executions/{execution_id}/artifacts/{step_id}/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Any other id is a JSON 404 */
                execution_id: components["parameters"]["ExecutionId"];
                step_id: string;
                /** @description The file's path as collected (may contain '/') */
                path: string;
            };
            cookie?: never;
        };
        /**
         * One artifact's bytes (range requests; sandboxed, never sniffed)
         * @description Served with the artifact's media type, `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox` (an HTML or SVG file runs no script and gets no access to the Jupyter origin), an `ETag` (its sha256) and `Content-Disposition: inline` (`attachment` with `?download=1`).
         */
        get: {
            parameters: {
                query?: {
                    /** @description `1`: Content-Disposition attachment */
                    download?: string;
                };
                header?: {
                    /** @description `bytes=START-END`, `bytes=START-` or `bytes=-N` (one range) */
                    Range?: string;
                };
                path: {
                    /** @description Any other id is a JSON 404 */
                    execution_id: components["parameters"]["ExecutionId"];
                    step_id: string;
                    /** @description The file's path as collected (may contain '/') */
                    path: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The whole file */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/octet-stream": string;
                    };
                };
                /** @description The requested range (`Content-Range` says which) */
                206: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/octet-stream": string;
                    };
                };
                416: components["responses"]["Error"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/ansflow/api/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Runs, success rate, p50/p95 duration, recent durations */
        get: {
            parameters: {
                query?: {
                    pipeline?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Statistics over finished executions */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": Record<string, never>;
                    };
                };
                403: components["responses"]["Forbidden"];
                default: components["responses"]["Error"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        ErrorBody: {
            message: string;
            errors: components["schemas"]["Issue"][];
        };
        /** @description Pipeline file, relative to the server root (403 outside it, 404 missing) */
        PipelinePath: string;
        /** @enum {string} */
        ExecutionStatus: "pending" | "running" | "success" | "failed" | "cancelled" | "interrupted";
        PipelineFile: {
            path?: string;
            name?: string;
            steps?: string[];
            /**
             * @description Present for a GitHub Actions workflow file (.github/workflows/*.yml; steps are its job ids, name its `name:` or else its file name); absent for a native pipeline
             * @enum {string}
             */
            kind?: "workflow";
        };
        Issue: {
            message?: string;
            line?: number;
            column?: number;
            path?: string;
        };
        Execution: {
            execution_id?: string;
            pipeline_name?: string;
            status?: components["schemas"]["ExecutionStatus"];
            path?: string | null;
            steps_total?: number;
            steps_done?: number;
        };
        Envelope: {
            v: number;
            seq: number | null;
            /** @enum {string} */
            type: "snapshot" | "execution_update" | "step_update" | "log_update" | "group_update" | "annotation" | "heartbeat";
            execution_id: string;
            ts: number;
            /** @description One of the payloads below, by `type` (heartbeat data is empty). */
            data: components["schemas"]["SnapshotData"] | components["schemas"]["MonitorSnapshotData"] | components["schemas"]["ExecutionUpdateData"] | components["schemas"]["StepUpdateData"] | components["schemas"]["LogUpdateData"] | Record<string, never>;
        };
        /** @enum {string} */
        StepStatus: "pending" | "running" | "success" | "failed" | "cancelled" | "skipped";
        /** @enum {string} */
        StepReason: "exit" | "timeout" | "cancelled" | "needs-failed" | "condition-false" | "spawn-error" | "interrupted" | "reused" | "worker-lost" | "output-error" | "kernel-died" | "runner-os" | "unsupported-action" | "needs-container" | "tool-missing" | "fail-fast";
        /** @description `data` of an `execution_update` envelope. */
        ExecutionUpdateData: {
            execution_id: string;
            pipeline_name: string;
            status: components["schemas"]["ExecutionStatus"];
            message: string | null;
            started_at: number | null;
            finished_at: number | null;
            duration: number | null;
            steps_total: number;
            steps_done: number;
        };
        /** @description `data` of a `step_update` envelope: one attempt of one step. */
        StepUpdateData: {
            step_id: string;
            name: string | null;
            status: components["schemas"]["StepStatus"];
            attempt: number;
            exit_code: number | null;
            /**
             * @description a StepReason, once the attempt ended
             * @enum {string|null}
             */
            reason: "exit" | "timeout" | "cancelled" | "needs-failed" | "condition-false" | "spawn-error" | "interrupted" | "reused" | "worker-lost" | "output-error" | "kernel-died" | "runner-os" | "unsupported-action" | "needs-container" | "tool-missing" | "fail-fast" | null;
            started_at: number | null;
            finished_at: number | null;
            duration: number | null;
            /** @description while running */
            pid?: number | null;
            pgid?: number | null;
            host?: string | null;
            create_time?: number | null;
            /** @description the reason in words */
            message?: string | null;
            reused_from?: string | null;
            /** @description the run a cache hit came from */
            cached_from?: string | null;
            /** @description why the cache did not answer */
            cache_miss?: string | null;
            /** @description the step's id as written in the file, before matrix expansion (legs share it) */
            template_id?: string;
            /** @description this matrix leg's values ({} outside a matrix) */
            matrix?: {
                [key: string]: string;
            };
            /** @description sent once when an attempt failed and another follows: seconds until it starts (exit_code is the failed attempt's) */
            retry_in?: number | null;
            outputs?: {
                [key: string]: string;
            } | null;
            /** @description bytes of the step's Markdown summary */
            summary?: number | null;
            artifacts?: {
                count?: number;
                bytes?: number;
            } | null;
        };
        /** @description `data` of a `log_update` envelope: consecutive lines from `offset`. */
        LogUpdateData: {
            step_id: string;
            /** @enum {string} */
            stream: "stdout" | "stderr";
            /** @description line number of lines[0] in its step */
            offset: number;
            lines: string[];
            ts: number[];
        };
        /** @description A step in a snapshot (its latest attempt). */
        SnapshotStep: components["schemas"]["StepUpdateData"] & {
            log_lines: number;
            needs?: string[];
            continue_on_error?: boolean;
            /** @description The attempts a retry replaced, oldest first (absent when none). */
            attempts?: components["schemas"]["AttemptData"][];
        };
        /** @description An earlier attempt of a retried step. */
        AttemptData: {
            attempt: number;
            exit_code: number | null;
            /** @description when it failed (the retry's wait follows) */
            finished_at: number | null;
            /** @description the step's lines when it ended: the next attempt's begin at this line number */
            log_lines: number;
        };
        /** @description `data` of a `snapshot` envelope on an execution's socket. */
        SnapshotData: {
            execution: components["schemas"]["ExecutionUpdateData"];
            steps: components["schemas"]["SnapshotStep"][];
        };
        /** @description `data` of the `snapshot` envelope on the global monitor socket. */
        MonitorSnapshotData: {
            executions: Record<string, never>[];
        };
        StepSummary: {
            step_id: string;
            attempt: number;
            markdown: string;
            data?: Record<string, never>;
        };
        Artifact: {
            step_id: string;
            /** @description Relative to the step's working directory */
            path: string;
            size: number;
            sha256: string;
            media_type: string;
            /** @description Where to download it */
            url: string;
        };
        LogLine: {
            step_id?: string;
            offset?: number;
            /** @enum {string} */
            stream?: "stdout" | "stderr";
            line?: string;
            ts?: number | null;
        };
    };
    responses: {
        /** @description No valid credentials, or the authorizer denies the action */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorBody"];
            };
        };
        /** @description 400 bad input, 403 auth, 404 unknown, 409 conflict, 413 body too large, 503 store */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": {
                    message: string;
                    errors: components["schemas"]["Issue"][];
                };
            };
        };
    };
    parameters: {
        /** @description Any other id is a JSON 404 */
        ExecutionId: string;
    };
    requestBodies: {
        Source: {
            content: {
                "application/json": {
                    path?: components["schemas"]["PipelinePath"];
                    yaml?: string;
                } & (unknown | unknown);
            };
        };
    };
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
