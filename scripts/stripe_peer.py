"""localstripe, with the two hosted-page APIs FaceGate calls and it lacks.

localstripe (a stateful Stripe fake) keeps customers, plans and
subscriptions, and sends webhooks signed as Stripe signs them. It has no
Checkout or Billing Portal, so this adds them over its own store:

  POST /v1/checkout/sessions         mode=subscription, an existing customer,
                                     one line item whose price is an existing
                                     plan (Stripe accepts plan ids as prices)
  POST /v1/billing_portal/sessions   an existing customer, a return_url
  POST /_test/checkout/{id}/complete what paying on the hosted page does: a
                                     real localstripe subscription (its
                                     customer.subscription.created webhook),
                                     then checkout.session.completed

Usage: python stripe_peer.py --port 4599 (a fresh store each start).
"""

import argparse
import secrets
import time

from aiohttp import web

from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import (Customer, Event, Plan, Subscription, Token,
                                   store)
from localstripe.webhooks import schedule_webhook

SESSIONS = {}


class _Exported:
    """What localstripe's Event needs of the object it carries."""

    def __init__(self, data):
        self.data = data

    def _export(self, expand=None):
        return self.data


def _required(data, *fields):
    for field in fields:
        if not data.get(field):
            raise UserError(400, f'Missing required param: {field}.')


def _line_items(data):
    items = data.get('line_items') or []
    # Form data arrives as {"0": {...}} from localstripe's unflattening.
    if isinstance(items, dict):
        items = [items[k] for k in sorted(items, key=int)]
    return items


def _base(request):
    return f'{request.scheme}://{request.host}'


async def create_checkout_session(request):
    data = await server.get_post_data(request) or {}
    _required(data, 'mode', 'customer', 'success_url', 'cancel_url')
    if data['mode'] != 'subscription':
        raise UserError(400, 'Only mode=subscription is supported here')
    Customer._api_retrieve(data['customer'])
    items = _line_items(data)
    if len(items) != 1 or str(items[0].get('quantity', '1')) != '1':
        raise UserError(400, 'Exactly one line item of quantity 1')
    _required(items[0], 'price')
    Plan._api_retrieve(items[0]['price'])
    session_id = 'cs_test_' + secrets.token_hex(12)
    session = {
        'id': session_id,
        'object': 'checkout.session',
        'mode': 'subscription',
        'status': 'open',
        'payment_status': 'unpaid',
        'customer': data['customer'],
        'client_reference_id': data.get('client_reference_id'),
        'metadata': data.get('metadata') or {},
        'subscription': None,
        'success_url': data['success_url'],
        'cancel_url': data['cancel_url'],
        'url': f'{_base(request)}/checkout/{session_id}',
        'created': int(time.time()),
        '_price': items[0]['price'],
        '_subscription_metadata':
            (data.get('subscription_data') or {}).get('metadata') or {},
    }
    SESSIONS[session_id] = session
    return server.json_response(_public(session))


def _public(session):
    return {k: v for k, v in session.items() if not k.startswith('_')}


async def complete_checkout(request):
    session = SESSIONS.get(request.match_info['id'])
    if session is None:
        raise UserError(404, 'Not Found')
    if session['status'] != 'open':
        raise UserError(400, 'This session is not open')
    # The card entered on the hosted page: the first invoice is paid and
    # the subscription active.
    card = Token._api_create(card={'number': '4242424242424242',
                                   'exp_month': '12', 'exp_year': '2040',
                                   'cvc': '123'})
    Customer._api_add_source(session['customer'], source=card.id)
    subscription = Subscription._api_create(
        customer=session['customer'],
        items=[{'plan': session['_price']}],
        metadata=session['_subscription_metadata'],
    )
    session.update(status='complete', payment_status='paid',
                   subscription=subscription.id)
    schedule_webhook(Event('checkout.session.completed',
                           _Exported(_public(session))))
    return server.json_response(_public(session))


async def create_portal_session(request):
    data = await server.get_post_data(request) or {}
    _required(data, 'customer')
    Customer._api_retrieve(data['customer'])
    session_id = 'bps_' + secrets.token_hex(12)
    return server.json_response({
        'id': session_id,
        'object': 'billing_portal.session',
        'customer': data['customer'],
        'return_url': data.get('return_url'),
        'url': f'{_base(request)}/p/session/{session_id}',
        'created': int(time.time()),
    })


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=4599)
    args = parser.parse_args()
    store.clear()
    app = server.app
    app.router.add_post('/v1/checkout/sessions', create_checkout_session)
    app.router.add_post('/v1/billing_portal/sessions', create_portal_session)
    app.router.add_post('/_test/checkout/{id}/complete', complete_checkout)
    app.router.add_get('/_test/health',
                       lambda request: web.json_response({'ok': True}))
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == '__main__':
    main()
