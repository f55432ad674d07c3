"""Models from code: the class that serves ``pricing_policy`` (see jobs/model_code/__init__.py)."""

from mlflow.models import set_model

from jobs.market.policy_models import PricingPolicyModel

set_model(PricingPolicyModel())
