"""The phone pool: state, quotas, pacing, the per-phone lease and choosing a phone."""

from phones.health import PhoneHealth
from phones.registry import PhoneRow, phone_report, phone_rows, sync_phones

__all__ = ["PhoneHealth", "PhoneRow", "phone_report", "phone_rows", "sync_phones"]
