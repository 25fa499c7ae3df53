"""The two calls a host backend makes, as copyable snippets for the API integration panel:
create-or-fetch the referrer, and list that referrer's referrals. The key is read from the
environment in every snippet, so a snippet never carries a secret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    language: str
    code: str


def snippets(base_url: str, program_id: str) -> dict[str, list[Snippet]]:
    members = f"{base_url}/api/v1/programs/{program_id}/members"
    referrals = f"{base_url}/api/v1/referrals"
    return {
        "Create or fetch the referrer": [
            Snippet(
                "curl",
                f"curl -X POST {members} \\\n"
                '  -H "Authorization: Bearer $REFERKIT_API_KEY" \\\n'
                '  -H "Content-Type: application/json" \\\n'
                '  -d \'{"email": "jane@example.com", "external_id": "user_123", '
                '"name": "Jane"}\'',
            ),
            Snippet(
                "Python",
                "import os\nimport httpx\n\n"
                f'response = httpx.post(\n    "{members}",\n'
                '    headers={"Authorization": f"Bearer {os.environ[\'REFERKIT_API_KEY\']}"},\n'
                '    json={"email": "jane@example.com", "external_id": "user_123",'
                ' "name": "Jane"},\n'
                ")\nmember = response.json()\n"
                'print(member["referral_link"])',
            ),
            Snippet(
                "JavaScript",
                f'const response = await fetch("{members}", {{\n'
                '  method: "POST",\n'
                "  headers: {\n"
                "    Authorization: `Bearer ${process.env.REFERKIT_API_KEY}`,\n"
                '    "Content-Type": "application/json",\n'
                "  },\n"
                '  body: JSON.stringify({ email: "jane@example.com", external_id: "user_123", '
                'name: "Jane" }),\n'
                "});\n"
                "const member = await response.json();\n"
                "console.log(member.referral_link);",
            ),
        ],
        "List the referrer's referrals": [
            Snippet(
                "curl",
                f'curl "{referrals}?member_id=$MEMBER_ID" \\\n'
                '  -H "Authorization: Bearer $REFERKIT_API_KEY"',
            ),
            Snippet(
                "Python",
                "import os\nimport httpx\n\n"
                f'response = httpx.get(\n    "{referrals}",\n'
                '    params={"member_id": member["id"]},\n'
                '    headers={"Authorization": f"Bearer {os.environ[\'REFERKIT_API_KEY\']}"},\n'
                ")\n"
                'for referral in response.json()["data"]:\n'
                '    print(referral["referee"]["email"], referral["status"])',
            ),
            Snippet(
                "JavaScript",
                f'const url = new URL("{referrals}");\n'
                'url.searchParams.set("member_id", member.id);\n'
                "const page = await fetch(url, {\n"
                "  headers: { Authorization: `Bearer ${process.env.REFERKIT_API_KEY}` },\n"
                "}).then((r) => r.json());\n"
                "for (const referral of page.data) {\n"
                "  console.log(referral.referee.email, referral.status);\n"
                "}",
            ),
        ],
    }
