"""The phone pool: state, quotas, pacing, the per-phone lease and choosing a phone."""

from phones.registry import PhoneRow, phone_rows, sync_phones

__all__ = ["PhoneRow", "phone_rows", "sync_phones"]
