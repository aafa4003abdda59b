'use strict'

/** The error `promise` rejects with; throws when it resolves instead. */
async function rejection(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

module.exports = { rejection }
