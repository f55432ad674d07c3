"""Models from code: the class that serves ``bidder_<agent>`` (see jobs/model_code/__init__.py)."""

from mlflow.models import set_model

from jobs.market.policy_models import BidderModel

set_model(BidderModel())
