// How hard the reliability suites push: `ci` in `npm test`, `long` in `npm run test:chaos` (CHAOS_PROFILE=long).
export const suiteProfile: 'ci' | 'long' = process.env.CHAOS_PROFILE === 'long' ? 'long' : 'ci';

export function byProfile<T>(values: { ci: T; long: T }): T {
  return values[suiteProfile];
}
