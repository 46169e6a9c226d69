# The dspy-code image around an executable that is already built (a release asset, `deno task compile`, or
# the binary `dspy-code quickstart` runs from). The build context holds the Linux executable as `dspy-code`:
#
#   cp dist/dspy-code-x86_64-unknown-linux-gnu ctx/dspy-code
#   docker build -f docker/binary.Dockerfile -t dspy-code:local ctx
#
# Same user, workspace, port and HEALTHCHECK as the `runtime` target of docker/Dockerfile.
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 dspy \
 && useradd --system --uid 10001 --gid dspy --home-dir /home/dspy --create-home dspy \
 && mkdir -p /workspace && chown dspy:dspy /workspace
COPY dspy-code /usr/local/bin/dspy-code
RUN chmod 0755 /usr/local/bin/dspy-code
USER dspy
WORKDIR /workspace
ENV DSPY_WORKSPACE=/workspace
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["dspy-code", "probe", "--timeout", "4", "http://127.0.0.1:8765/health"]
ENTRYPOINT ["dspy-code"]
CMD ["up", "--host", "0.0.0.0", "--port", "8765"]
