# syntax=docker/dockerfile:1
# nginx with the shared configuration template and its entry point (docker/entrypoints/nginx.sh),
# the same pair scripts/prod_up.sh uses natively. Debian's nginx, as natively.
FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx gettext-base curl \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY docker/nginx.conf.template /app/docker/nginx.conf.template
COPY docker/entrypoints/ /app/docker/entrypoints/
ENV NGINX_LISTEN=80 NGINX_ACTIONS_LISTEN=5055 NGINX_RUN_DIR=/run/tthc-nginx \
    NGINX_ACCESS_LOG=/var/log/nginx/access.log NGINX_ERROR_LOG=/var/log/nginx/error.log
EXPOSE 80
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -sf http://127.0.0.1/nginx-health || exit 1
ENTRYPOINT ["/app/docker/entrypoints/nginx.sh"]
