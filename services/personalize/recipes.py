"""The recipes ListRecipes and DescribeRecipe answer, each backed by an algorithm of models/recommend.

AWS's recipe, algorithm and feature-transformation ARNs have no region or account. The domain recipes
(ECOMMERCE, VIDEO_ON_DEMAND use cases) run on the custom recipe named beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

USER_PERSONALIZATION, PERSONALIZED_RANKING, RELATED_ITEMS = "USER_PERSONALIZATION", "PERSONALIZED_RANKING", \
    "RELATED_ITEMS"
USER_SEGMENTATION, PERSONALIZED_ACTIONS = "USER_SEGMENTATION", "PERSONALIZED_ACTIONS"

# Recipes AWS lists did not change since this day, as far as this catalogue is concerned.
LISTED_SINCE = dt.datetime(2019, 6, 10, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Recipe:
    name: str
    recipe_type: str
    description: str
    algorithm: str  # the models/recommend recipe it trains
    domain: str | None = None
    deprecated: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.name}"

    @property
    def algorithm_arn(self) -> str:
        return f"arn:aws:personalize:::algorithm/{self.algorithm}"

    @property
    def feature_transformation_arn(self) -> str:
        return f"arn:aws:personalize:::feature-transformation/{self.algorithm}"


_CUSTOM = [
    Recipe("aws-user-personalization", USER_PERSONALIZATION,
           "Predicts the items a user will interact with, and explores new items.", "aws-user-personalization"),
    Recipe("aws-user-personalization-v2", USER_PERSONALIZATION,
           "Predicts the items a user will interact with, for catalogues of up to 5 million items.",
           "aws-user-personalization-v2"),
    Recipe("aws-personalized-ranking", PERSONALIZED_RANKING,
           "Ranks a given list of items for a user.", "aws-personalized-ranking"),
    Recipe("aws-personalized-ranking-v2", PERSONALIZED_RANKING,
           "Ranks a given list of items for a user, for catalogues of up to 5 million items.",
           "aws-personalized-ranking-v2"),
    Recipe("aws-similar-items", RELATED_ITEMS,
           "Items similar to a given item, from co-occurrence and item metadata.", "aws-similar-items"),
    Recipe("aws-sims", RELATED_ITEMS, "Items that users interact with together with a given item.", "aws-sims"),
    Recipe("aws-semantic-similarity", RELATED_ITEMS,
           "Items whose text is semantically similar to a given item's.", "aws-semantic-similarity"),
    Recipe("aws-popularity-count", USER_PERSONALIZATION,
           "The most popular items, by the count of their events.", "aws-popularity-count"),
    Recipe("aws-trending-now", USER_PERSONALIZATION,
           "The items whose popularity grows fastest.", "aws-trending-now"),
    Recipe("aws-item-affinity", USER_SEGMENTATION,
           "Segments of users most likely to interact with given items.", "aws-item-affinity"),
    Recipe("aws-item-attribute-affinity", USER_SEGMENTATION,
           "Segments of users most likely to interact with items of given attributes.",
           "aws-item-attribute-affinity"),
    Recipe("aws-next-best-action", PERSONALIZED_ACTIONS,
           "The actions a user is most likely to take next.", "aws-next-best-action"),
    # Legacy recipes AWS still describes: they train the current user-personalization algorithm.
    Recipe("aws-hrnn", USER_PERSONALIZATION, "Legacy: user personalization from interactions.",
           "aws-user-personalization", deprecated=True),
    Recipe("aws-hrnn-metadata", USER_PERSONALIZATION, "Legacy: user personalization with metadata.",
           "aws-user-personalization", deprecated=True),
    Recipe("aws-hrnn-coldstart", USER_PERSONALIZATION, "Legacy: user personalization with cold items.",
           "aws-user-personalization", deprecated=True),
]

_DOMAIN = [
    Recipe("aws-ecomm-customers-who-viewed-x-also-viewed", RELATED_ITEMS,
           "Items that customers viewed together with a given item.", "aws-sims", "ECOMMERCE"),
    Recipe("aws-ecomm-frequently-bought-together", RELATED_ITEMS,
           "Items that customers buy together with a given item.", "aws-sims", "ECOMMERCE"),
    Recipe("aws-ecomm-popular-items-by-purchases", USER_PERSONALIZATION,
           "The most purchased items.", "aws-popularity-count", "ECOMMERCE"),
    Recipe("aws-ecomm-popular-items-by-views", USER_PERSONALIZATION,
           "The most viewed items.", "aws-popularity-count", "ECOMMERCE"),
    Recipe("aws-ecomm-recommended-for-you", USER_PERSONALIZATION,
           "Items a customer is likely to view or buy.", "aws-user-personalization", "ECOMMERCE"),
    Recipe("aws-vod-because-you-watched-x", RELATED_ITEMS,
           "Videos that viewers of a given video also watched.", "aws-sims", "VIDEO_ON_DEMAND"),
    Recipe("aws-vod-more-like-x", RELATED_ITEMS,
           "Videos like a given video.", "aws-similar-items", "VIDEO_ON_DEMAND"),
    Recipe("aws-vod-most-popular", USER_PERSONALIZATION,
           "The most watched videos.", "aws-popularity-count", "VIDEO_ON_DEMAND"),
    Recipe("aws-vod-top-picks", USER_PERSONALIZATION,
           "Videos a viewer is likely to watch.", "aws-user-personalization", "VIDEO_ON_DEMAND"),
    Recipe("aws-vod-trending-now", USER_PERSONALIZATION,
           "The videos whose viewing grows fastest.", "aws-trending-now", "VIDEO_ON_DEMAND"),
]

RECIPES: dict[str, Recipe] = {recipe.arn: recipe for recipe in _CUSTOM + _DOMAIN}
# The event type each domain use case trains on (AWS's use-case requirements), None: every event.
DOMAIN_EVENT_TYPES = {
    "aws-ecomm-popular-items-by-purchases": "Purchase", "aws-ecomm-popular-items-by-views": "View",
    "aws-ecomm-frequently-bought-together": "Purchase", "aws-ecomm-customers-who-viewed-x-also-viewed": "View",
}


def recipe(arn: str) -> Recipe | None:
    return RECIPES.get(arn)


def recipe_of_name(name: str) -> Recipe | None:
    return RECIPES.get(f"arn:aws:personalize:::recipe/{name}")
