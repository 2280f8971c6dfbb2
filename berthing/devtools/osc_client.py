"""The real ``openstack`` command line with the osc-placement plugin, in a venv of its own.

berthing's Placement API is accepted when operators' own tool works against it, not
when berthing's tests agree with themselves. This installs python-openstackclient and
osc-placement at the versions pinned below, beside the Placement peer's venv (same
cache directory), and says how to point it at a server with Placement's ``noauth2``
token ``admin`` and no Keystone.
"""

from __future__ import annotations

import os
from pathlib import Path

from berthing.devtools.placement_peer import default_cache_dir, ensure_venv

__all__ = ["CLIENT_CONSTRAINTS", "client_env", "install_client"]

CLIENT_PACKAGES = ("osc-placement", "python-openstackclient")
# Every distribution in the client's venv, as `pip freeze` listed it on Python 3.11.
CLIENT_CONSTRAINTS = (
    "osc-placement==4.9.1",
    "python-openstackclient==10.5.0",
    "autopage==0.6.0",
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.3",
    "cliff==4.17.0",
    "cmd2==4.3.1",
    "cryptography==50.0.2",
    "debtcollector==3.1.0",
    "decorator==5.3.1",
    "dogpile.cache==1.5.0",
    "idna==3.20",
    "iso8601==2.1.0",
    "jmespath==1.1.0",
    "jsonpatch==1.48",
    "jsonpointer==3.12",
    "keystoneauth1==5.18.1",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "msgpack==1.2.4",
    "netaddr==1.3.0",
    "openstacksdk==4.22.0",
    "os-service-types==1.9.0",
    "osc-lib==4.7.0",
    "oslo.config==10.7.0",
    "oslo.context==6.5.0",
    "oslo.i18n==6.9.0",
    "oslo.log==8.3.2",
    "oslo.serialization==5.11.0",
    "oslo.utils==10.2.0",
    "packaging==26.4",
    "pbr==7.1.3",
    "platformdirs==4.14.8",
    "prettytable==3.18.0",
    "prompt_toolkit==3.0.53",
    "psutil==7.2.2",
    "pycparser==3.12",
    "Pygments==2.21.0",
    "pyparsing==3.3.3",
    "pyperclip==1.11.0",
    "python-dateutil==4.0.0",
    "python-keystoneclient==6.0.0",
    "python-manilaclient==6.3.0",
    "PyYAML==6.0.4",
    "requests==2.34.2",
    "rfc3986==2.0.0",
    "rich==15.0.0",
    "rich-argparse==1.8.0",
    "stevedore==5.10.0",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "wcwidth==0.9.4",
    "wrapt==2.5.2",
)
# Variables of the caller's environment that would steer the client elsewhere.
_CLIENT_VARIABLES = ("OS_", "OPENSTACK_")


def install_client(cache_dir: Path | None = None, *, quiet: bool = True) -> Path:
    """The ``openstack`` executable of the pinned client venv, installed now if missing."""
    venv = (cache_dir or default_cache_dir()) / "osc-venv"
    return ensure_venv(venv, CLIENT_PACKAGES, CLIENT_CONSTRAINTS, quiet) / "openstack"


def client_env(endpoint: str, microversion: str | None = "1.39") -> dict[str, str]:
    """The environment for ``openstack`` to talk to ``endpoint`` as Placement's admin.

    ``admin_token`` auth sends ``X-Auth-Token: admin`` straight to the endpoint, which
    noauth2 takes as an admin; ``auth type none`` would send the token ``notused``,
    which has no roles (403). ``microversion=None`` leaves the version to the client's
    negotiation. Any ``OS_*`` variable of the caller is dropped: a real cloud's
    credentials must not leak into, or redirect, a run against a local server.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_VARIABLES)}
    env.update(OS_AUTH_TYPE="admin_token", OS_TOKEN="admin", OS_ENDPOINT=endpoint)
    if microversion is not None:
        env["OS_PLACEMENT_API_VERSION"] = microversion
    return env
