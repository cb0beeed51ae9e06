"""
Running maximum favourable / adverse excursion of open positions.

Unit: ratios of the entry price, side-aware, before fees and without leverage.
``mfe >= 0`` is the best move in the trade's favour, ``mae <= 0`` the worst move against it.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from freqtrade_posmgmt.validation import coerce, fail, validated_policy, whole


@dataclass(frozen=True)
class MFEMetrics:
    """
    Extremes reached so far by one position.

    :param mfe: Maximum favourable excursion, ratio of the entry price, >= 0.
    :param mae: Maximum adverse excursion, ratio of the entry price, <= 0.
    :param mfe_price: Price at which ``mfe`` was reached (None while not known).
    :param mae_price: Price at which ``mae`` was reached (None while not known).

    The prices are the seed's API and what a standalone tracker reports; ``MFEMAEMixin`` does
    not save them, as each follows from its ratio and the first entry price
    (``entry * (1 + mfe)`` for a long), so after a restart they are None.
    :param mfe_time: When ``mfe`` was reached (UTC).
    :param mae_time: When ``mae`` was reached (UTC).
    """

    mfe: float = 0.0
    mae: float = 0.0
    mfe_price: float | None = None
    mae_price: float | None = None
    mfe_time: datetime | None = None
    mae_time: datetime | None = None

    def __post_init__(self) -> None:
        if not self.mfe >= 0:
            raise fail("mfe", self.mfe, "must be >= 0 (ratio of the entry price)")
        if not self.mae <= 0:
            raise fail("mae", self.mae, "must be <= 0 (ratio of the entry price)")
        for name in ("mfe_time", "mae_time"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise fail(name, moment, "naive datetime; must be timezone-aware (UTC)")


@validated_policy
@dataclass
class MFEMAETracker:
    """
    Keeps the running MFE/MAE of open positions in memory, keyed by any position id.

    :param precision: Decimals the ratios are rounded to, so that float noise never counts as
        a new extreme.
    """

    precision: int = 8
    _metrics: dict[object, MFEMetrics] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        coerce(
            self, precision=whole("precision", self.precision, 1, rule="must be an integer >= 1")
        )

    def calculate_mfe_mae(
        self, entry_price: float, high: float, low: float, is_short: bool
    ) -> tuple[float, float]:
        """
        Favourable and adverse excursion of one price range from the entry.
        :param entry_price: Entry price of the position, > 0.
        :param high: Highest price of the range (pass the same price twice for a single price).
        :param low: Lowest price of the range.
        :param is_short: True for a short position.
        :return: ``(mfe, mae)``: ratios of the entry price, ``mfe >= 0``, ``mae <= 0``.
        """
        if not entry_price > 0:
            raise fail("entry_price", entry_price, "must be > 0")
        if not high >= low:
            raise fail(f"high={high}, low={low}", rule="high must be >= low")
        up = (high - entry_price) / entry_price
        down = (low - entry_price) / entry_price
        favourable, adverse = (-down, -up) if is_short else (up, down)
        # Adding 0.0 turns a -0.0 into 0.0.
        return (
            round(max(favourable, 0.0), self.precision) + 0.0,
            round(min(adverse, 0.0), self.precision) + 0.0,
        )

    def update_position_metrics(
        self,
        position_id: object,
        entry_price: float,
        is_short: bool,
        high: float,
        low: float,
        time: datetime,
    ) -> MFEMetrics:
        """
        Fold one observed price range into the position's extremes.
        :param position_id: Key of the position (e.g. Freqtrade's ``trade.id``).
        :param time: When the range was observed (UTC, tz-aware): the time a new extreme gets.
        :return: The position's metrics after the update; the same object when no extreme
            changed, so ``is`` tells whether anything needs saving.
        """
        if time.tzinfo is None:
            raise fail("time", time, "naive datetime; must be timezone-aware (UTC)")
        mfe, mae = self.calculate_mfe_mae(entry_price, high, low, is_short)
        updated = self._metrics.get(position_id, MFEMetrics())
        if mfe > updated.mfe:
            price = low if is_short else high
            updated = replace(updated, mfe=mfe, mfe_price=price, mfe_time=time)
        if mae < updated.mae:
            price = high if is_short else low
            updated = replace(updated, mae=mae, mae_price=price, mae_time=time)
        self._metrics[position_id] = updated
        return updated

    def set_position_metrics(self, position_id: object, metrics: MFEMetrics) -> None:
        """
        Start a position from known extremes, e.g. those saved before a restart.
        """
        self._metrics[position_id] = metrics

    def get_position_metrics(self, position_id: object) -> MFEMetrics | None:
        """
        :return: The position's extremes so far, None if the position is unknown.
        """
        return self._metrics.get(position_id)

    def clear(self, position_id: object | None = None) -> None:
        """
        Forget one position, or all of them when ``position_id`` is None.
        """
        if position_id is None:
            self._metrics.clear()
        else:
            self._metrics.pop(position_id, None)
