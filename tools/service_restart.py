"""restart_service: restart one systemd service on a running instance through SSM Run Command."""

from __future__ import annotations

import shlex

from pydantic import Field, field_validator

from tools.aws_failures import aws_errors_allowing
from tools.base import AwsClients, ExecContext, JsonDict, ToolError, ToolSpec, VerifyResult
from tools.context import aws_errors, get_instance, instance_state
from tools.ec2_helpers import InstanceArgs, instance_resources
from tools.records import skip_verify_after_dry_run

SERVICE_NAME_PATTERN = r"^[A-Za-z0-9@._-]{1,64}$"


class RestartServiceArgs(InstanceArgs):
    service: str = Field(
        pattern=SERVICE_NAME_PATTERN, description="systemd unit name, like nginx or nginx.service"
    )

    @field_validator("service")
    @classmethod
    def _not_an_option(cls, value: str) -> str:
        if value.startswith("-"):
            raise ValueError(f"'{value}' is not a service name (it must not start with '-')")
        return value


def _restart_command(service: str) -> str:
    return f"systemctl restart {shlex.quote(service)}"


def _run_restart(clients: AwsClients, args: RestartServiceArgs, ctx: ExecContext) -> JsonDict:
    state = instance_state(get_instance(clients, args.instance_id, args.region))
    if state != "running":
        raise ToolError(f"Instance {args.instance_id} is {state}, so its service cannot be restarted.")
    command = _restart_command(args.service)
    record: JsonDict = {"instance_id": args.instance_id, "service": args.service, "command": command}
    if ctx.dry_run:  # SSM has no DryRun; the instance was checked above
        return {"dry_run": True, **record}
    ssm = clients.client("ssm", args.region)
    with aws_errors(f"send the restart command to {args.instance_id}"):
        sent = ssm.send_command(
            InstanceIds=[args.instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": [command]},
            Comment=f"opsbot {ctx.incident_id}: restart {args.service}"[:100],
        )["Command"]
    return {**record, "command_id": sent["CommandId"], "status": sent.get("Status", "")}


def _command_status(clients: AwsClients, args: RestartServiceArgs, command_id: str) -> str:
    """The command's status on the instance, or from the command list when that is not known yet."""
    ssm = clients.client("ssm", args.region)
    with aws_errors_allowing(f"report on command {command_id}", "InvocationDoesNotExist") as not_yet:
        status = str(ssm.get_command_invocation(CommandId=command_id, InstanceId=args.instance_id)["Status"])
    if not_yet.code is None:
        return status
    with aws_errors(f"report on command {command_id}"):
        commands = ssm.list_commands(CommandId=command_id)["Commands"]
    return str(commands[0]["Status"]) if commands else "unknown"


@skip_verify_after_dry_run
def _verify_restart(clients: AwsClients, args: RestartServiceArgs, record: JsonDict) -> VerifyResult:
    status = _command_status(clients, args, record["command_id"])
    return VerifyResult(
        ok=status == "Success",
        detail=f"Restarting {args.service} on {args.instance_id} (command {record['command_id']}): {status}.",
    )


restart_service = ToolSpec[RestartServiceArgs](
    name="restart_service",
    description="Restart one systemd service on an EC2 instance through SSM Run Command (systemctl restart).",
    args=RestartServiceArgs,
    risk="write",
    run=_run_restart,
    verify=_verify_restart,
    resources=instance_resources,
    effect="The service restarts; its connections drop briefly.",
)
