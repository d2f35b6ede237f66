"""Settings from environment variables (documented in .env.example). Secrets are never logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", env_file=None, extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path(".opsbot"), alias="OPSBOT_DATA_DIR")
    policy_file: Path | None = Field(default=None, alias="OPSBOT_POLICY_FILE")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    dry_run: bool = Field(default=False, alias="OPSBOT_DRY_RUN")
    quarantine_group_name: str = Field(default="opsbot-quarantine", alias="OPSBOT_QUARANTINE_GROUP")
    waf_ip_set_name: str | None = Field(default=None, alias="OPSBOT_WAF_IP_SET_NAME")
    waf_ip_set_id: str | None = Field(default=None, alias="OPSBOT_WAF_IP_SET_ID")
    waf_ip_set_scope: str = Field(default="REGIONAL", alias="OPSBOT_WAF_IP_SET_SCOPE")
    approval_ttl_seconds: int | None = Field(default=None, alias="OPSBOT_APPROVAL_TTL_SECONDS")
    port: int = Field(default=3000, alias="PORT")
    events_token: SecretStr | None = Field(default=None, alias="OPSBOT_EVENTS_TOKEN")
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL")
    alert_channels_csv: str = Field(default="", alias="OPSBOT_ALERT_CHANNELS")
    incidents_channel: str | None = Field(default=None, alias="OPSBOT_INCIDENTS_CHANNEL")
    sns_topic_arns_csv: str = Field(default="", alias="OPSBOT_SNS_TOPIC_ARNS")
    embedding: Literal["minilm", "hashing", "off"] = Field(default="minilm", alias="OPSBOT_EMBEDDING")
    embedding_model_dir: Path | None = Field(default=None, alias="OPSBOT_EMBEDDING_MODEL_DIR")
    knowledge_dir: Path | None = Field(default=None, alias="OPSBOT_KNOWLEDGE_DIR")
    runbooks_dir: Path | None = Field(default=None, alias="OPSBOT_RUNBOOKS_DIR")
    chroma_host: str | None = Field(default=None, alias="OPSBOT_CHROMA_HOST")
    chroma_port: int = Field(default=8000, alias="OPSBOT_CHROMA_PORT")
    # Escalation and reports (issue 6)
    pagerduty_routing_key: SecretStr | None = Field(default=None, alias="PAGERDUTY_ROUTING_KEY")
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue", alias="OPSBOT_PAGERDUTY_URL"
    )
    page_at_severity: float = Field(default=8.0, ge=0, le=10, alias="OPSBOT_PAGE_AT_SEVERITY")
    ses_sender: str | None = Field(default=None, alias="OPSBOT_SES_SENDER")
    report_emails_csv: str = Field(default="", alias="OPSBOT_REPORT_EMAILS")
    reports_channel: str | None = Field(default=None, alias="OPSBOT_REPORTS_CHANNEL")
    review_schedule: str | None = Field(default=None, alias="OPSBOT_REVIEW_SCHEDULE")
    # Durable runtime (issue 7)
    checkpointer: Literal["sqlite", "postgres"] = Field(default="sqlite", alias="OPSBOT_CHECKPOINTER")
    postgres_url: SecretStr | None = Field(default=None, alias="OPSBOT_POSTGRES_URL")
    audit_bucket: str | None = Field(default=None, alias="OPSBOT_AUDIT_BUCKET")
    audit_retention_days: int = Field(default=365, ge=1, alias="OPSBOT_AUDIT_RETENTION_DAYS")
    reclaim_idle_seconds: float = Field(default=60.0, gt=0, alias="OPSBOT_RECLAIM_IDLE_SECONDS")
    metrics_port: int = Field(default=9100, alias="OPSBOT_METRICS_PORT")
    log_format: Literal["json", "text"] = Field(default="json", alias="OPSBOT_LOG_FORMAT")

    @property
    def alert_channels(self) -> set[str]:
        return {channel.strip() for channel in self.alert_channels_csv.split(",") if channel.strip()}

    @property
    def report_emails(self) -> list[str]:
        return [address.strip() for address in self.report_emails_csv.split(",") if address.strip()]

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def audit_log_path(self) -> Path:
        return self.data_dir / "audit.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "coordination.sqlite"

    def waf_ip_set(self) -> dict[str, Any] | None:
        if not (self.waf_ip_set_name and self.waf_ip_set_id):
            return None
        return {"name": self.waf_ip_set_name, "id": self.waf_ip_set_id, "scope": self.waf_ip_set_scope}
