"""The public lead form a passenger reaches by scanning a QR code: ``/l/{code}``, no sign-in.

GET renders the form with a signed token (web/leads/form_token.py); POST checks, in order, the
rate limits (429), the code (404 unknown or revoked, 410 at its cap), the body size (413),
the token (400) and the fields (422, nothing stored), then stores the lead (web/leads/intake.py)
and thanks the passenger, the same way for a new lead, a duplicate and a repeated post.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from store.lead_intake import CodeUnavailable
from store.qr_codes import QrCode
from web.deps import form_size
from web.http.templating import TEMPLATES
from web.leads import form_token as lead_token
from web.leads import intake as leads
from web.leads.form import read
from web.leads.form_limits import client_address, lead_limits
from web.rate_limits import limiter_of

router = APIRouter(include_in_schema=False)

MAX_BODY = 8 * 1024
HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
GONE = {
    404: ("Code not found", "This QR code is not valid any more. Thank you for your interest."),
    410: ("Offer closed", "This code has reached its limit. Thank you for your interest."),
    413: ("Too large", "The form was too large. Go back and shorten your answers."),
    400: (
        "Form expired",
        "This form has expired or was not sent from this page. "
        "Open it again and resend your details.",
    ),
}


def _page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, context, status_code=status, headers={**HEADERS, **(headers or {})}
    )


def _problem(
    request: Request,
    status: int,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    detail: str | None = None,
) -> HTMLResponse:
    title, text = GONE.get(status, ("Please wait", detail or ""))
    return _page(
        request,
        "lead_problem.html",
        status,
        headers,
        title=title,
        detail=detail or text,
        retry=code,
    )


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


async def _open_code(request: Request, code: str) -> QrCode | HTMLResponse:
    found = await leads.find_code(request.app.state.pool, code)
    if found is None or found.revoked_at is not None:
        return _problem(request, 404)
    if found.full:
        return _problem(request, 410)
    return found


def _form(
    request: Request,
    found: QrCode,
    token: str,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "lead_form.html",
        status,
        code=found.code,
        campaign=found.campaign_name,
        token=token,
        values=values or {"name": "", "phone": "", "consent": ""},
        errors=errors or {},
    )


@router.get("/l/{code}", response_class=HTMLResponse)
async def lead_form(request: Request, code: str) -> HTMLResponse:
    found = await _open_code(request, code)
    if isinstance(found, HTMLResponse):
        return found
    return _form(request, found, lead_token.issue(_secret(request), found.code))


@router.post("/l/{code}", response_class=HTMLResponse)
async def submit_lead(request: Request, code: str) -> HTMLResponse:
    limited = await lead_limits(request).check(
        limiter_of(request), client_address(request), code[:32]
    )
    if limited is not None:
        return _problem(
            request,
            429,
            detail=limited.message,
            headers={"Retry-After": str(limited.retry_after_s)},
        )
    found = await _open_code(request, code)
    if isinstance(found, HTMLResponse):
        return found
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return _problem(request, 413)
    form = await request.form(max_files=0, max_fields=16)
    if form_size(form) > MAX_BODY:  # a body sent without a length
        return _problem(request, 413)
    raw_token = form.get("token")
    token = lead_token.verify(
        _secret(request), raw_token if isinstance(raw_token, str) else None, found.code
    )
    if token is None:
        return _problem(request, 400, found.code)
    result = read(form)
    if result.lead is None:
        assert isinstance(raw_token, str)
        return _form(request, found, raw_token, 422, result.values, result.errors)
    ip_hash = leads.client_hash(_secret(request), client_address(request))
    try:
        await leads.submit(request.app.state.pool, found, result.lead, token.nonce, ip_hash)
    except CodeUnavailable as exc:
        return _problem(request, exc.status)
    return _page(request, "lead_thanks.html", campaign=found.campaign_name)
